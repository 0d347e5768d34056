"""Planning (M4): a person's portfolio of visits, and capacity-aware waves for a whole population.

Pure algorithms over plain data (dataclasses and numpy arrays); the scheduling domain turns their
plans into held slots.
"""
