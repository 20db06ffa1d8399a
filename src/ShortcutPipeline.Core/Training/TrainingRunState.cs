namespace ShortcutPipeline.Core.Training;

/// <summary>Where a training run stands. Succeeded and Failed are terminal.</summary>
public enum TrainingRunState
{
    /// <summary>Recorded and on the training queue; no trainer has started it yet.</summary>
    Queued,

    /// <summary>A trainer works on it (or did, and crashed: the next delivery of its request resumes it).</summary>
    Running,

    /// <summary>Trained to the requested total; its promotion (or why there was none) is recorded.</summary>
    Succeeded,

    /// <summary>A bad request (the reasons say why), or a run that failed on every delivery.</summary>
    Failed,
}

/// <summary>What launched a training run.</summary>
public enum TrainingTrigger
{
    /// <summary>The HTTP function, by hand.</summary>
    Manual,

    /// <summary>The timer function's <see cref="TrainingScheduler"/>.</summary>
    Schedule,

    /// <summary>A request put on the training queue directly; the trainer recorded it.</summary>
    Queue,
}

/// <summary>Helpers for <see cref="TrainingRunState"/>.</summary>
public static class TrainingRunStates
{
    /// <summary>True for the states a run never leaves.</summary>
    public static bool IsTerminal(this TrainingRunState state) => state is TrainingRunState.Succeeded or TrainingRunState.Failed;
}
