from .group_iou_metric import GroupIoUMetric, count_components, format_group_table, per_image_scores

__all__ = ['GroupIoUMetric', 'count_components', 'format_group_table', 'per_image_scores']
