from .cross_species_encoder_decoder import CrossSpeciesEncoderDecoder

__all__ = ['CrossSpeciesEncoderDecoder']
