namespace Orleans.CastIron.Core.Tests;

internal static class TestConfigs
{
    public static ProcessorConfig Config(string glob = ".csv", string inbox = "01_inbox", bool enabled = true, string? archive = "03_archive", params string[] mimeTypes) => new()
    {
        Enabled = enabled,
        HandledFileGlob = glob,
        HandledMimeTypes = [.. mimeTypes],
        InboxDir = inbox,
        ProcessingDir = "02_processing",
        ArchiveDir = archive,
        ErrorDir = "04_failed",
        CanceledDir = "05_canceled",
        SaveErrorLog = true,
        Shell = "true",
    };
}
