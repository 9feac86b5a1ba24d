namespace Orleans.CastIron.Grains.Tests;

public static class Configs
{
    public static string Dotnet(string processor, string glob = ".csv", string extraEtl = "", string extraTables = "", bool saveErrorLog = true, string inbox = "01_inbox") => $"""
        [castiron.etl]
        enabled = true
        handled_file_glob = "{glob}"
        inbox_dir = "{inbox}"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = {(saveErrorLog ? "true" : "false")}
        {extraEtl}

        [castiron.etl.dotnet]
        processor = "{processor}"
        {extraTables}
        """;

    public static string Shell(string script, string glob = ".csv", string extraEtl = "") => $"""
        [castiron.etl]
        enabled = true
        handled_file_glob = "{glob}"
        inbox_dir = "01_inbox"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = true
        {extraEtl}
        shell = '''
        {script}
        '''
        """;

    /// <summary>A config running <c>[castiron.etl.python]</c> (<paramref name="python"/>: its keys and any sub-tables), with <c>static_kwargs</c>.</summary>
    public static string Python(string python, string extraEtl = "", string kwargs = "") => $"""
        [castiron.etl]
        enabled = true
        handled_file_glob = ".csv"
        inbox_dir = "01_inbox"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = true
        {extraEtl}

        [castiron.etl.python]
        {python}

        [castiron.etl.python.static_kwargs]
        {kwargs}
        """;

    public static string Folder() => "t" + Guid.NewGuid().ToString("N")[..12];
}
