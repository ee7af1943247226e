from .group_iou_metric import GroupIoUMetric, format_group_table, per_image_scores

__all__ = ['GroupIoUMetric', 'format_group_table', 'per_image_scores']
