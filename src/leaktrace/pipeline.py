"""The analysis after new messages: templates, campaigns, first-party channels, attribution."""

from __future__ import annotations

from dataclasses import dataclass

from leaktrace.attribution.first_party import Channel, infer_channels
from leaktrace.attribution.statistics import Attribution
from leaktrace.attribution.verdicts import run_attribution
from leaktrace.campaigns.link import CampaignResult, link_campaigns
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


def analyse(store: Store) -> AnalysisResult:
    """Cluster new messages, bring campaigns up to date, infer first-party channels, attribute.

    Campaigns follow whatever changed since they were linked: new messages (also those
    an earlier analysis clustered before it was cut short) and templates merged or
    split by hand.
    """
    clustering = cluster_messages(store)
    campaigns = link_campaigns(store)
    channels = infer_channels(store)
    return AnalysisResult(clustering, campaigns, run_attribution(store), channels)
