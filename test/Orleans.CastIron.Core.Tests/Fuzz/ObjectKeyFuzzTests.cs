using System.Text;
using CsCheck;
using Orleans.CastIron.Paths;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests.Fuzz;

public class ObjectKeyFuzzTests(ITestOutputHelper output)
{
    private static readonly Gen<string> Segment = Gen.OneOf(
        Gen.OneOf("a", "01_inbox", ".", "..", "...", "", " ", ".castiron", "é", "😀", "a b", "x\ny", "a\\b", "%2F", "\u202e"),
        Gen.String[Gen.Char["ab.-_ é"], 0, 8],
        Gen.Int[180, 260].Select(n => new string('x', n)),
        Gen.String[0, 6]);

    private static readonly Gen<string> Key = Gen.OneOf(
        Segment.Array[1, 6].Select(segments => string.Join('/', segments)),
        Gen.Select(Gen.OneOf("", "/"), Segment.Array[1, 6]).Select((lead, segments) => lead + string.Join('/', segments)),
        Gen.String);

    [Fact]
    public void Validate_NeverThrows_AndWhatItAcceptsIsSafe()
    {
        Key.Sample(key =>
        {
            if (ObjectKeys.Validate(key) is { } problem)
            {
                Assert.NotEmpty(problem);
                return;
            }

            Assert.InRange(Encoding.UTF8.GetByteCount(key), 1, ObjectKeys.MaxKeyBytes);
            Assert.False(key.StartsWith('/'));
            Assert.DoesNotContain(key, char.IsControl);
            Assert.DoesNotContain('\\', key);
            Assert.All(key.Split('/'), segment =>
            {
                Assert.NotEmpty(segment);
                Assert.NotEqual(".", segment);
                Assert.NotEqual("..", segment);
                Assert.InRange(Encoding.UTF8.GetByteCount(segment), 1, ObjectKeys.MaxSegmentBytes);
            });
            // UTF-8 round trip: the key S3 or a file system stores is this key.
            Assert.Equal(key, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(key)));
            // The key algebra: split and joined again it is the same key.
            Assert.Equal(key, ObjectKeys.Combine(ObjectKeys.Parent(key), ObjectKeys.Leaf(key)));
            Assert.Equal(ObjectKeys.Leaf(key), ObjectKeys.RelativeTo(key, ObjectKeys.Parent(key)));
        }, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void ValidateRenamable_ImpliesTheRenamedKeyAndItsErrorLogAreValid()
    {
        Gen.Select(Key, Gen.Guid).Sample((key, id) =>
        {
            if (ObjectKeys.ValidateRenamable(key) is not null)
            {
                return;
            }

            var renamed = ObjectKeys.Rename(key, $"{id}-{ObjectKeys.Leaf(key)}");
            Assert.Null(ObjectKeys.Validate(renamed));
            Assert.Null(ObjectKeys.Validate(ObjectKeys.Rename(renamed, ObjectKeys.Leaf(renamed).Replace('.', '_') + StagePaths.ErrorLogSuffix)));
        }, output.WriteLine, iter: FuzzGen.Iterations);
    }
}
