namespace Orleans.CastIron.Grains.State;

/// <summary>Persisted state of a FileJob grain: the machine's last durable state.</summary>
[GenerateSerializer, Alias("castiron.FileJobGrainState")]
public sealed class FileJobGrainState
{
    /// <summary>The state.</summary>
    [Id(0)] public FileJobState Current { get; set; } = new NoJob();
}
