# MMSeg's default runtime (hooks, logging, visualizer) with the distributed
# process group's timeout set here, not left to the backend, and a TTA model
# that keeps the merged probabilities.
_base_ = ['mmseg::_base_/default_runtime.py']
# Collectives wait at most `timeout` seconds for the slowest rank (mmengine's
# init_dist turns the int into a timedelta; the CPU gloo path in
# crossspec_mmseg/engine/cpu_ddp.py reads the same value). NCCL's own default
# is 10 minutes, too short for the long waits of a run: the build-time tile
# check of an uncached dataset (split across ranks, yet ~320 tiles/s on 2
# cores), rank 0 computing the metrics of a large test set, checkpoint writes
# to slow storage. 30 minutes covers them; a dead rank is then noticed within
# that time (tests shorten it: --cfg-options env_cfg.dist_cfg.timeout=30).
env_cfg = dict(dist_cfg=dict(backend='nccl', timeout=1800))
# Test-time augmentation (tools/test.py --tta): MMSeg's SegTTAModel (mean of the
# views' softmaxes, its argmax) that also keeps the mean probabilities as each
# sample's seg_logits (MMSeg's keeps one view's), for metrics that type nuclei
# from probabilities.
tta_model = dict(type='ProbabilityTTAModel')
