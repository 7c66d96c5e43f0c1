namespace ServiceNodeInvoker.Settings;

/// <summary>Describes a setting for the start-up checks: a number's unit and allowed range; whether it may hold a secret.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SettingAttribute : Attribute
{
    public string? Unit { get; init; }
    public long Min { get; init; } = long.MinValue;
    public long Max { get; init; } = long.MaxValue;

    /// <summary>The setting (or a value given in its place) may be a secret: problems name it, never quote it.</summary>
    public bool Secret { get; init; }
}
