using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Testing;

/// <summary>
/// An app's telemetry as <see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/> sets it up, plus
/// OpenTelemetry's in-memory exporters: the spans and metrics the app would export, for tests to read. Activity sources
/// and meters are process-wide, so tests that count metrics belong to <see cref="TelemetryCollection"/>, which runs alone.
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly ServiceProvider services;
    private readonly LockedList<Activity> spans;
    private readonly LockedList<MetricSnapshot> metrics;

    private TelemetryCapture(ServiceProvider services, LockedList<Activity> spans, LockedList<MetricSnapshot> metrics)
    {
        this.services = services;
        this.spans = spans;
        this.metrics = metrics;
        Tracer = services.GetRequiredService<TracerProvider>();
        Meters = services.GetRequiredService<MeterProvider>();
    }

    /// <summary>The tracer provider the setup built.</summary>
    public TracerProvider Tracer { get; }

    /// <summary>The meter provider the setup built.</summary>
    public MeterProvider Meters { get; }

    /// <summary>The settings that switch the console export off (what <see cref="StartAsync"/> uses by default).</summary>
    public static IReadOnlyDictionary<string, string?> Quiet { get; } =
        new Dictionary<string, string?> { [$"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.Console)}"] = "false" };

    /// <summary>
    /// The setup of service <paramref name="serviceName"/> with meters <paramref name="meterNames"/>, configured by
    /// <paramref name="settings"/> (default <see cref="Quiet"/>), collecting into memory from now on.
    /// </summary>
    public static Task<TelemetryCapture> StartAsync(
        string serviceName, IEnumerable<string>? meterNames = null, IReadOnlyDictionary<string, string?>? settings = null) =>
        StartAsync((services, configuration) => services.AddShortcutPipelineTelemetry(configuration, serviceName, meterNames ?? []), settings);

    /// <summary>
    /// The services that <paramref name="setup"/> registers (an app's registration, telemetry included), configured by
    /// <paramref name="settings"/> (default <see cref="Quiet"/>), collecting into memory from now on. Their hosted services are
    /// started as a host would (the Azure Monitor exporter attaches itself to the tracer there).
    /// </summary>
    public static async Task<TelemetryCapture> StartAsync(
        Action<IServiceCollection, IConfiguration> setup, IReadOnlyDictionary<string, string?>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(setup);
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? Quiet).Build();
        var spans = new LockedList<Activity>();
        var metrics = new LockedList<MetricSnapshot>();
        var collection = new ServiceCollection();
        setup(collection, configuration);
        collection.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
        collection.ConfigureOpenTelemetryMeterProvider(meters => meters.AddInMemoryExporter(metrics));
        var telemetry = new TelemetryCapture(collection.BuildServiceProvider(), spans, metrics);
        foreach (IHostedService service in telemetry.services.GetServices<IHostedService>())
        {
            await service.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return telemetry;
    }

    /// <summary>The services, for the code under test.</summary>
    public IServiceProvider Services => services;

    /// <summary>Exports what is pending: ended spans, and the metrics as they are now.</summary>
    public void Flush()
    {
        Tracer.ForceFlush();
        Meters.ForceFlush();
    }

    /// <summary>The spans exported so far, in the order they ended.</summary>
    public IReadOnlyList<Activity> Spans => spans.Snapshot();

    /// <summary>The exported spans that carry <paramref name="jobId"/> as <see cref="TelemetryAttributes.JobId"/>, in the order they ended.</summary>
    public IReadOnlyList<Activity> SpansOfJob(string jobId) =>
        Spans.Where(span => Equals(span.GetTagItem(TelemetryAttributes.JobId), jobId)).ToList();

    /// <summary>
    /// The points of metric <paramref name="name"/> in the latest export (<see cref="Flush"/> first), as (tags, value): the
    /// sum of a counter, the count of a histogram, the last value of a gauge.
    /// </summary>
    public IReadOnlyList<(IReadOnlyDictionary<string, object?> Tags, double Value)> Points(string name)
    {
        MetricSnapshot? latest = metrics.Snapshot().LastOrDefault(metric => metric.Name == name);
        return latest is null ? [] : [.. latest.MetricPoints.Select(point => ((IReadOnlyDictionary<string, object?>)Tags(point), Value(latest.MetricType, point)))];
    }

    /// <summary>The sum of <see cref="Points"/> of <paramref name="name"/> whose tags include every one of <paramref name="tags"/>.</summary>
    public double Total(string name, params (string Key, object? Value)[] tags) =>
        Points(name).Where(point => tags.All(tag => point.Tags.TryGetValue(tag.Key, out object? value) && Equals(value, tag.Value)))
            .Sum(point => point.Value);

    /// <summary>Shuts the providers down.</summary>
    public void Dispose() => services.Dispose();

    private static Dictionary<string, object?> Tags(MetricPoint point)
    {
        var tags = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            tags[tag.Key] = tag.Value;
        }

        return tags;
    }

    private static double Value(MetricType type, MetricPoint point) => type switch
    {
        MetricType.LongSum or MetricType.LongSumNonMonotonic => point.GetSumLong(),
        MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => point.GetSumDouble(),
        MetricType.LongGauge => point.GetGaugeLastValueLong(),
        MetricType.DoubleGauge => point.GetGaugeLastValueDouble(),
        MetricType.Histogram or MetricType.ExponentialHistogram => point.GetHistogramCount(),
        _ => throw new NotSupportedException($"Metric type {type}."),
    };

    /// <summary>A list that the exporters may add to from any thread while a test reads it.</summary>
    private sealed class LockedList<T> : ICollection<T>
    {
        private readonly List<T> items = [];

        public int Count { get { lock (items) { return items.Count; } } }

        public bool IsReadOnly => false;

        public List<T> Snapshot() { lock (items) { return [.. items]; } }

        public void Add(T item) { lock (items) { items.Add(item); } }

        public void Clear() { lock (items) { items.Clear(); } }

        public bool Contains(T item) { lock (items) { return items.Contains(item); } }

        public void CopyTo(T[] array, int arrayIndex) { lock (items) { items.CopyTo(array, arrayIndex); } }

        public bool Remove(T item) { lock (items) { return items.Remove(item); } }

        public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
