// Each test trains a model: on a shared machine with few cores they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
