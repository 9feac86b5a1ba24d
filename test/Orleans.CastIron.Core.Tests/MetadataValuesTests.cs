using Orleans.CastIron.Storage;

namespace Orleans.CastIron.Core.Tests;

public class MetadataValuesTests
{
    [Theory]
    [InlineData("test.csv")]
    [InlineData("ünïcødé 日本語 🙂.csv")]
    [InlineData("two\nlines\r\n")]
    [InlineData("tab\there")]
    [InlineData("=?UTF-8?B?dGVzdA==?=")]
    [InlineData("")]
    public void EveryValue_RoundTrips_AndIsSentAsPrintableAscii(string value)
    {
        var encoded = MetadataValues.Encode(value);

        Assert.All(encoded, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal(value, MetadataValues.Decode(encoded));
    }

    [Fact]
    public void PlainAsciiValues_AreSentAsTheyAre()
    {
        Assert.Equal("text/csv; charset=utf-8", MetadataValues.Encode("text/csv; charset=utf-8"));
    }

    [Theory]
    [InlineData("=?UTF-8?B?not base64!?=")]
    [InlineData("=?ISO-8859-1?Q?caf=E9?=")]
    [InlineData("=?UTF-8?B?")]
    public void ValuesThatAreNotOurEncodedWords_AreReadUnchanged(string value)
    {
        Assert.Equal(value, MetadataValues.Decode(value));
    }
}
