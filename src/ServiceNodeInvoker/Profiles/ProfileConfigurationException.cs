namespace ServiceNodeInvoker.Profiles;

/// <summary>Invalid configuration found at start-up; the message names the profile and the setting.</summary>
public sealed class ProfileConfigurationException(string message) : Exception(message);
