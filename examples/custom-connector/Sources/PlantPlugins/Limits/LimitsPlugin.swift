import ConnectorKit

extension PluginDescriptor {
    /// The `limits` transform.
    public static let limits: PluginDescriptor = .transform("limits", LimitsConfiguration.self,
                                                            summary: "Flags rows whose value leaves a band (min, max) in a bool column") { c, _ in
        LimitsTransform(c)
    }
}
