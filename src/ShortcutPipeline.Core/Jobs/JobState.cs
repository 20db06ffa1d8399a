namespace ShortcutPipeline.Core.Jobs;

/// <summary>Where a job stands. Rejected, Completed, Failed and Cancelled are terminal.</summary>
public enum JobState
{
    /// <summary>The message broke the contract; the reasons say how. Nothing was enqueued.</summary>
    Rejected,

    /// <summary>Accepted and split into work items; no image is done yet.</summary>
    Queued,

    /// <summary>A worker has started on it.</summary>
    Running,

    /// <summary>Every image is done.</summary>
    Completed,

    /// <summary>A worker gave up on it (the error says why), or its deadline passed.</summary>
    Failed,

    /// <summary>Cancelled by the user before it finished.</summary>
    Cancelled,
}

/// <summary>Helpers for <see cref="JobState"/>.</summary>
public static class JobStates
{
    /// <summary>True for the states a job never leaves.</summary>
    public static bool IsTerminal(this JobState state) =>
        state is JobState.Rejected or JobState.Completed or JobState.Failed or JobState.Cancelled;
}
