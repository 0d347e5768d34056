"""The 2023–24 North Macedonia document renewal campaign replayed twice on one synthetic country:
reactive (mass media, first-come-first-served booking, one document per visit) and Navreme
(capacity-aware waves, held slots, bundled family visits). Day by day, vectorised with numpy.
"""
