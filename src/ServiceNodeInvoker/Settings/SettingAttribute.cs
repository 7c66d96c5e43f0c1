namespace ServiceNodeInvoker.Settings;

/// <summary>Describes a number setting for the start-up checks: its unit and allowed range.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SettingAttribute : Attribute
{
    public string? Unit { get; init; }
    public long Min { get; init; } = long.MinValue;
    public long Max { get; init; } = long.MaxValue;
}
