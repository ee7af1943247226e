from ..structures import count_components  # lives in structures; public here too
from .group_instance_metric import GroupInstanceMetric
from .group_iou_metric import GroupIoUMetric, per_image_scores
from .groups import format_group_table, format_typed_tables
from .instance_scores import aggregate, image_counts
from .typed_instance_scores import (
    instance_types_from_map,
    instance_types_from_probabilities,
    typed_aggregate,
    typed_image_counts,
    typed_scores,
)

__all__ = ['GroupInstanceMetric', 'GroupIoUMetric', 'aggregate', 'count_components',
           'format_group_table', 'format_typed_tables', 'image_counts', 'instance_types_from_map',
           'instance_types_from_probabilities', 'per_image_scores', 'typed_aggregate',
           'typed_image_counts', 'typed_scores']
