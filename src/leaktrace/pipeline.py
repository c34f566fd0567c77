"""The analysis after new messages: templates, campaigns, first-party channels, attribution."""

from __future__ import annotations

from dataclasses import dataclass

from leaktrace.attribution.first_party import Channel, infer_channels
from leaktrace.attribution.statistics import Attribution
from leaktrace.attribution.verdicts import run_attribution
from leaktrace.campaigns.link import CampaignResult, current_campaigns, link_campaigns
from leaktrace.store import Store
from leaktrace.templates.cluster import ClusterResult, cluster_messages


@dataclass(frozen=True)
class AnalysisResult:
    """What one pass of the chain did."""

    clustering: ClusterResult
    campaigns: CampaignResult
    attribution: Attribution
    channels: list[Channel]  # first-party channels inferred in this pass

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
        return (
            f"analysed: {self.clustering.messages} new messages clustered "
            f"({self.clustering.templates} templates), {self.campaigns.campaigns} campaigns; "
            f"{inferred}sources: {verdicts or 'none'}"
        )


def analyse(store: Store, *, relink: bool = False) -> AnalysisResult:
    """Cluster new messages, relink campaigns if any, infer first-party channels, attribute.

    ``relink`` relinks campaigns even without new messages (after templates were merged
    or split by hand).
    """
    clustering = cluster_messages(store)
    if not relink and clustering.messages == 0 and (known := current_campaigns(store)):
        campaigns = known  # no new messages: the campaigns stand
    else:
        campaigns = link_campaigns(store)
    channels = infer_channels(store)
    return AnalysisResult(clustering, campaigns, run_attribution(store), channels)
