"""Attribution: exposures of units at sources, their statistics, and the verdict per source."""
