from ..structures import count_components  # lives in structures; public here too
from .group_instance_metric import GroupInstanceMetric
from .group_iou_metric import GroupIoUMetric, per_image_scores
from .groups import format_group_table
from .instance_scores import aggregate, image_counts

__all__ = ['GroupInstanceMetric', 'GroupIoUMetric', 'aggregate', 'count_components',
           'format_group_table', 'image_counts', 'per_image_scores']
