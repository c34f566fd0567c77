"""The analysis after new messages: templates, campaigns, first-party channels, attribution,
then the alerts that attribution's changes call for."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from leaktrace.alerts import after_analysis
from leaktrace.attribution.first_party import Channel, infer_channels
from leaktrace.attribution.statistics import Attribution
from leaktrace.attribution.verdicts import run_attribution
from leaktrace.campaigns.link import CampaignResult, link_campaigns
from leaktrace.store import Store
from leaktrace.templates.cluster import ClusterResult, cluster_messages, unclustered

# An analysis of at most this many new messages keeps one connection to the store
# throughout (tens of openings of a big store cost more than its clustering); a bigger
# one opens it per step, so the receiver and the dashboard get in between.
HOLD_LIMIT = 50_000


@dataclass(frozen=True)
class AnalysisResult:
    """What one pass of the chain did."""

    clustering: ClusterResult
    campaigns: CampaignResult
    attribution: Attribution
    channels: list[Channel]  # first-party channels inferred in this pass
    alerts: int = 0  # alerts sent after this pass (leaktrace alerts log)

    def summary(self) -> str:
        """One line for the terminal."""
        counts: dict[str, int] = {}
        for v in self.attribution.verdicts:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        verdicts = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
        inferred = (
            f"{len(self.channels)} first-party channels inferred (leaktrace first-party list); "
            if self.channels
            else ""
        )
        sent = f"; {self.alerts} alerts sent" if self.alerts else ""
        return (
            f"analysed: {self.clustering.messages} new messages clustered "
            f"({self.clustering.templates} templates), {self.campaigns.campaigns} campaigns; "
            f"{inferred}sources: {verdicts or 'none'}{sent}"
        )


def analyse(store: Store) -> AnalysisResult:
    """Cluster new messages, bring campaigns up to date, infer first-party channels, attribute,
    then send the alerts its changes call for.

    Campaigns follow whatever changed since they were linked: new messages (also those
    an earlier analysis clustered before it was cut short) and templates merged or
    split by hand.
    """
    with store.held() if unclustered(store) <= HOLD_LIMIT else nullcontext():
        clustering = cluster_messages(store)
        campaigns = link_campaigns(store)
        channels = infer_channels(store)
        attribution = run_attribution(store)
    alerts = after_analysis(store)  # logs its failures, never raises; sends unheld
    return AnalysisResult(clustering, campaigns, attribution, channels, alerts)
