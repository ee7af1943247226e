from .cross_species_sampler import CrossSpeciesMixedSampler, batch_quotas, group_shares

__all__ = ['CrossSpeciesMixedSampler', 'batch_quotas', 'group_shares']
