"""CLI commands that make whole studies: ``simulate`` and ``demo``."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from leaktrace.sim.config import SimConfig

_D = SimConfig()


def simulate_command(
    out: Annotated[Path, typer.Argument(help="Directory to write the study into.")],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = _D.seed,
    sources: Annotated[int, typer.Option(help="Number of sources.")] = _D.sources,
    canaries: Annotated[int, typer.Option(help="Planted canaries, spread over sources.")] = (
        _D.canaries
    ),
    canaries_per_source: Annotated[
        int | None, typer.Option(help="Overrides --canaries: this many per source.")
    ] = None,
    controls: Annotated[int, typer.Option(help="Controls (never planted).")] = _D.controls,
    days: Annotated[int, typer.Option(help="Length of the study.")] = _D.days,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = str(_D.start),
    leak_share: Annotated[float, typer.Option(help="Share of sources that leak.")] = (
        _D.leak_share
    ),
    batch_share: Annotated[
        float, typer.Option(help="Share of leaks that are one database copy.")
    ] = _D.batch_share,
    brokers: Annotated[int, typer.Option(help="Brokers buying leaked lists.")] = _D.brokers,
    campaigns_per_broker: Annotated[int, typer.Option(help="Campaigns per broker.")] = (
        _D.campaigns_per_broker
    ),
    background_rate: Annotated[
        float, typer.Option(help="Background messages per contact per day.")
    ] = _D.background_rate,
    noise: Annotated[float, typer.Option(help="Chance of each kind of text noise.")] = _D.noise,
    languages: Annotated[str, typer.Option(help="Comma-separated: zh,en.")] = "zh,en",
    en_share: Annotated[float, typer.Option(help="Share of English personas/campaigns.")] = (
        _D.en_share
    ),
    email_share: Annotated[float, typer.Option(help="Share of e-mail canaries.")] = (
        _D.email_share
    ),
    double_plant_share: Annotated[
        float, typer.Option(help="Share of canaries planted at two sources.")
    ] = _D.double_plant_share,
    messages: Annotated[
        int | None, typer.Option(help="Scale volumes to about this many messages.")
    ] = None,
    roster_ids: Annotated[
        bool, typer.Option(help="List sources' sender ids and signatures in sources.csv.")
    ] = _D.roster_ids,
    flag_controls: Annotated[
        bool, typer.Option(help="Mark controls is_control in canaries.csv.")
    ] = _D.flag_controls,
    small_campaigns: Annotated[
        int, typer.Option(help="Extra one-day campaigns reaching 2-5 random phones each.")
    ] = _D.small_campaigns,
    own_marketing_share: Annotated[
        float, typer.Option(help="Share of sources marketing to their canaries from a 2nd number.")
    ] = _D.own_marketing_share,
    small_leak_share: Annotated[
        float, typer.Option(help="Share of leaking sources that leak only two canaries.")
    ] = _D.small_leak_share,
    markers: Annotated[
        bool, typer.Option(help="Give plants name-spelling and plus-tag markers.")
    ] = _D.markers,
    obfuscation: Annotated[
        float,
        typer.Option(help="Chance of each spammer obfuscation (broken links, separators, ...)."),
    ] = _D.obfuscation,
    long_tail: Annotated[
        float,
        typer.Option(help="Share of messages that are one-off texts (a real inbox's long tail)."),
    ] = _D.long_tail,
) -> None:
    """Write a simulated study with ground truth in the real import formats."""
    from leaktrace.sim.simulate import simulate

    config = SimConfig(
        seed=seed,
        sources=sources,
        canaries=canaries,
        canaries_per_source=canaries_per_source,
        controls=controls,
        days=days,
        start=date.fromisoformat(start),
        leak_share=leak_share,
        batch_share=batch_share,
        brokers=brokers,
        campaigns_per_broker=campaigns_per_broker,
        background_rate=background_rate,
        noise=noise,
        languages=tuple(x.strip() for x in languages.split(",") if x.strip()),
        en_share=en_share,
        email_share=email_share,
        double_plant_share=double_plant_share,
        messages=messages,
        roster_ids=roster_ids,
        flag_controls=flag_controls,
        small_campaigns=small_campaigns,
        own_marketing_share=own_marketing_share,
        small_leak_share=small_leak_share,
        markers=markers,
        obfuscation=obfuscation,
        long_tail=long_tail,
    )
    began = time.perf_counter()
    result = simulate(config, out)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(result.by_kind.items()))
    typer.echo(
        f"wrote {result.messages} messages ({kinds}) for {result.canaries} canaries and "
        f"{result.controls} controls at {result.sources} sources "
        f"({result.leaking_sources} leak) to {out} in {time.perf_counter() - began:.1f} s"
    )


def demo_command(
    ctx: typer.Context,
    sample: Annotated[
        Path | None, typer.Option(help="The sample study (default: sample_data/ of this checkout).")
    ] = None,
) -> None:
    """Build a demo store from the sample study through the normal import paths."""
    from leaktrace.sim.demo import build_demo, find_sample_data
    from leaktrace.store import Store

    sample = sample or find_sample_data()
    if sample is None or not sample.is_dir():
        raise typer.BadParameter("no sample study found; give --sample DIR")
    db = (ctx.obj or {}).get("db") or Path("demo") / "leaktrace.duckdb"
    result = build_demo(Store(db), sample)
    typer.echo(f"demo store: {result.store}")
    for file, n in sorted(result.roster.added.items()):
        typer.echo(f"  imported {n} new rows from {file}")
    for table, n in result.counts.items():
        typer.echo(f"  {table}: {n}")
    for error in result.roster.errors:
        typer.echo(f"  rejected: {error}", err=True)
    inserted = sum(r.inserted for r in result.imports)
    duplicate = sum(r.duplicate for r in result.imports)
    first_party = sum(r.first_party for r in result.imports)
    typer.echo(
        f"  messages from {len(result.imports)} files: {inserted} new, {duplicate} already "
        f"stored, {first_party} of the new ones first-party"
    )
    if result.analysis is not None:
        typer.echo(f"  {result.analysis.summary()}")
