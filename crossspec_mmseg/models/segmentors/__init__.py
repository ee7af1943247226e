from .cross_species_encoder_decoder import CrossSpeciesEncoderDecoder
from .probability_tta import ProbabilityTTAModel

__all__ = ['CrossSpeciesEncoderDecoder', 'ProbabilityTTAModel']
