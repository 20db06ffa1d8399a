using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Data;

// Placeholder until the data readers land (branch modeldata); replaced on merge.
public sealed class ImageDataset(Tensor images, Tensor labels, IReadOnlyList<string> classNames) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Labels { get; } = labels;
    public IReadOnlyList<string> ClassNames { get; } = classNames;
    public int Count => (int)Images.shape[0];
    public int Channels => (int)Images.shape[1];
    public int ImageSize => (int)Images.shape[2];
    public int NumClasses => ClassNames.Count;

    public Tensor ToModelInput(Tensor indices, Device? device = null)
    {
        using var picked = Images.index_select(0, indices);
        return (picked.to(float32) / 127.5 - 1).to(device ?? CPU);
    }

    public void Dispose() { Images.Dispose(); Labels.Dispose(); }
}
