from .cross_species_sampler import CrossSpeciesMixedSampler, slot_groups, group_shares

__all__ = ['CrossSpeciesMixedSampler', 'slot_groups', 'group_shares']
