from .cross_species_encoder_decoder import CrossSpeciesEncoderDecoder
from .probability_tta import ProbabilityTTAModel
from .stardist_segmentor import StarDistSegmentor, StarDistTTAModel

__all__ = ['CrossSpeciesEncoderDecoder', 'ProbabilityTTAModel', 'StarDistSegmentor',
           'StarDistTTAModel']
