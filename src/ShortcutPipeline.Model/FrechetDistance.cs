using ShortcutPipeline.Model.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShortcutPipeline.Model;

// Sample quality the way FID measures it (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to
// features of real and generated images. Inception's weights can't be downloaded here, so the features come from
// a small classifier that the project trains on the same dataset: FID's recipe with a domain classifier. Values
// are comparable between models scored with the same classifier, not with published FIDs.

/// <summary>The Fréchet distance between two sets of features.</summary>
public static class FrechetDistance
{
    /// <summary>|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), for features (N, D); computed in float64.</summary>
    public static double Compute(Tensor featuresA, Tensor featuresB)
    {
        using var scope = NewDisposeScope();
        var (mu1, s1) = Statistics(featuresA);
        var (mu2, s2) = Statistics(featuresB);
        var diff = mu1 - mu2;
        // tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)): the inner matrix is symmetric positive semi-definite.
        var root1 = SymmetricSqrt(s1);
        var inner = root1.matmul(s2).matmul(root1);
        var traceOfRoot = linalg.eigvalsh(0.5 * (inner + inner.T)).clamp_min(0).sqrt().sum();
        var distance = diff.dot(diff) + s1.trace() + s2.trace() - 2 * traceOfRoot;
        return Math.Max(0, distance.item<double>());
    }

    /// <summary>Mean (D) and unbiased covariance (D, D) of features (N, D), in float64.</summary>
    public static (Tensor Mean, Tensor Covariance) Statistics(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] < 2)
            throw new ArgumentException("Features must be (N, D) with N >= 2.");
        var f = features.to(float64);
        var mean = f.mean([0]);
        var centered = f - mean;
        return (mean, centered.T.matmul(centered) / (f.shape[0] - 1));
    }

    private static Tensor SymmetricSqrt(Tensor matrix)
    {
        var (values, vectors) = linalg.eigh(matrix);
        return vectors.matmul(diag(values.clamp_min(0).sqrt())).matmul(vectors.T);
    }
}

/// <summary>
/// The small CNN whose penultimate 128-d features the Fréchet distance uses. Trained on the same dataset as the
/// generative model, at the same resolution.
/// </summary>
public sealed class QualityClassifier : Module<Tensor, Tensor>
{
    public const int FeatureSize = 128;
    private readonly Sequential features;
    private readonly Linear head;

    public int Channels { get; }
    public int ImageSize { get; }
    public int NumClasses { get; }

    public QualityClassifier(int channels, int imageSize, int numClasses, long seed = 0) : base(nameof(QualityClassifier))
    {
        (Channels, ImageSize, NumClasses) = (channels, imageSize, numClasses);
        LibTorchSettings.DisableNnpack();
        lock (LibTorchSettings.GlobalRandomLock)
        {
            manual_seed(seed);
            features = Sequential(
            ("conv1", Conv2d(channels, 32, 3, padding: 1)), ("act1", GELU()),
            ("conv2", Conv2d(32, 64, 3, stride: 2, padding: 1)), ("act2", GELU()),
            ("conv3", Conv2d(64, FeatureSize, 3, stride: 2, padding: 1)), ("act3", GELU()),
            ("pool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()));
            head = Linear(FeatureSize, numClasses);
            RegisterComponents();
        }
    }

    /// <summary>True when the classifier was made for <paramref name="data"/>'s images: the same channels, size and classes.</summary>
    public bool Fits(ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Channels == data.Channels && ImageSize == data.ImageSize && NumClasses == data.NumClasses;
    }

    /// <summary>Class logits for images in [-1, 1].</summary>
    public override Tensor forward(Tensor images)
    {
        using var f = features.forward(images);
        return head.forward(f);
    }

    /// <summary>The 128-d features of images in [-1, 1], computed in batches without gradients; (N, 128) on the CPU.</summary>
    public Tensor Features(Tensor images, int batchSize = 256)
    {
        eval();
        using var _ = no_grad();
        var device = parameters().First().device;
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start)).to(device);
            parts.Add(features.forward(batch).cpu().MoveToOuterDisposeScope());
        }
        var all = cat(parts);
        foreach (var part in parts) part.Dispose();
        return all;
    }

    /// <summary>Trains with Adam and light augmentation-free minibatches; deterministic for a seed.</summary>
    public void Fit(ImageDataset data, int steps, int batchSize = 128, double learningRate = 2e-3, long seed = 0,
        IProgress<(int Step, double Loss)>? progress = null)
    {
        train();
        var device = parameters().First().device;
        using var optimizer = optim.Adam(parameters(), lr: learningRate);
        using var generator = new Generator((ulong)seed);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var indices = randint(0, data.Count, [batchSize], generator: generator);
            var logits = forward(data.ToModelInput(indices, device));
            var loss = functional.cross_entropy(logits, data.LabelsAt(indices, device));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            progress?.Report((step + 1, loss.item<float>()));
        }
        eval();
    }

    /// <summary>Top-1 accuracy on a labelled dataset.</summary>
    public double Accuracy(ImageDataset data, int batchSize = 512)
    {
        eval();
        using var _ = no_grad();
        var device = parameters().First().device;
        long correct = 0;
        for (long start = 0; start < data.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var indices = arange(start, Math.Min(start + batchSize, data.Count), dtype: int64);
            var predicted = forward(data.ToModelInput(indices, device)).argmax(1).cpu();
            correct += predicted.eq(data.Labels.index_select(0, indices)).sum().item<long>();
        }
        return (double)correct / data.Count;
    }

    public void Save(string path)
    {
        var tensors = state_dict().ToDictionary(p => p.Key, p => p.Value);
        SafetensorsFile.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "shortcut-pipeline/quality-classifier/1",
            ["channels"] = Channels.ToString(), ["imageSize"] = ImageSize.ToString(), ["numClasses"] = NumClasses.ToString(),
        });
    }

    public static QualityClassifier Load(string path)
    {
        var header = SafetensorsFile.ReadHeader(path);
        int Read(string key) => int.TryParse(header.Metadata.GetValueOrDefault(key), out var v)
            ? v : throw new InvalidDataException($"{path} is not a quality classifier file: metadata \"{key}\" is missing.");
        var classifier = new QualityClassifier(Read("channels"), Read("imageSize"), Read("numClasses"));
        var tensors = SafetensorsFile.ReadTensors(path);
        classifier.load_state_dict(tensors);
        foreach (var t in tensors.Values) t.Dispose();
        classifier.eval();
        return classifier;
    }
}
