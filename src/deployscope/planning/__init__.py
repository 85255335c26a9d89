"""The planning stages, one concern per module, typed values in and out.

``inputs`` resolves the scenario against the catalog; ``sizing`` finds the configurations and
replicas per GPU type; ``hardware`` chooses server, storage and network rows and their prices;
``costing`` turns a sized candidate into a picklable cost model; ``options`` enumerates and prunes
the candidates; ``verdicts`` asks the policy engine; ``performance`` describes a candidate;
``pipelines`` sizes and prices pipelines. ``candidates`` holds the values they pass along.
"""

from .candidates import FACTORS, UNCERTAINTY_DEFAULTS, Candidate, Demand, Factors, Piece, Search, Verdict

__all__ = ["FACTORS", "UNCERTAINTY_DEFAULTS", "Candidate", "Demand", "Factors", "Piece", "Search", "Verdict"]
