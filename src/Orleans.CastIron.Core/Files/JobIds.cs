namespace Orleans.CastIron.Files;

/// <summary>Job ids as the FileJob makes them: 22 URL-safe base64 characters (the seed's were standard base64).</summary>
public static class JobIds
{
    /// <summary>True for a plausible job id: 1 to 64 characters, each a letter, digit, <c>-</c> or <c>_</c>.</summary>
    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
