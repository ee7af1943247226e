from .stardist_head import StarDistHead

__all__ = ['StarDistHead']
