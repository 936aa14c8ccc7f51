import ConnectorKit

/// `type = "limits"`: flags rows whose value leaves a band, in a bool column of its own (for an
/// alarm view, or a partial index on the alarms).
public struct LimitsConfiguration: PluginConfiguration {
    /// The numeric column to check.
    public var column: String
    public var min: Double?
    public var max: Double?
    /// The bool column added: true when the value is below `min` or above `max`.
    public var flag: String

    public func validate() throws {
        if min == nil && max == nil { throw ConfigIssue(key: "max", message: "give min, max or both") }
        if let min, let max, min > max { throw ConfigIssue(key: "min", message: "\(min) is above max (\(max))") }
        if flag == column { throw ConfigIssue(key: "flag", message: "must differ from column") }
    }

    public static let sample = """
        type = "limits"
        column = "temperature"
        max = 80.0
        flag = "overheated"
        """
}
