"""The analysis chain after new messages: templates, campaigns, attribution."""

from __future__ import annotations

from dataclasses import dataclass

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

    def summary(self) -> str:
        """One line for the terminal."""
        counts: dict[str, int] = {}
        for v in self.attribution.verdicts:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        verdicts = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
        return (
            f"analysed: {self.clustering.messages} new messages clustered "
            f"({self.clustering.templates} templates), {self.campaigns.campaigns} campaigns; "
            f"sources: {verdicts or 'none'}"
        )


def analyse(store: Store, *, relink: bool = False) -> AnalysisResult:
    """Cluster the messages not yet clustered, relink campaigns if any were, attribute again.

    ``relink`` relinks campaigns even without new messages (after templates were merged
    or split by hand).
    """
    clustering = cluster_messages(store)
    if not relink and clustering.messages == 0 and (known := current_campaigns(store)):
        campaigns = known  # no new messages: the campaigns stand
    else:
        campaigns = link_campaigns(store)
    return AnalysisResult(clustering, campaigns, run_attribution(store))
