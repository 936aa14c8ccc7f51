import ConnectorKit

/// `type = "files"`: a local folder (or a staging folder filled by rclone or a scanner).
public struct FilesConfiguration: PluginConfiguration {
    /// The folder to read; relative paths are relative to the pipeline file's directory.
    public var path: String
    /// `glob`, `recursive`, `settle`, `after_load`, `move_to`.
    public var selection = FileSelection()

    enum CodingKeys: String, CodingKey { case path }

    public init(path: String) { self.path = path }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        selection = try FileSelection(from: decoder)
    }

    public func validate() throws {
        if path.isEmpty { throw ConfigIssue(key: "path", message: "must name a folder") }
        try selection.validate()
    }

    public static let sample = """
        type = "files"
        path = "/srv/plant/incoming"
        glob = "**/*.csv"
        settle = "5s"
        after_load = "keep"
        """
}

extension FilesConfiguration {
    func makeSource(context: PluginBuildContext) -> TailingSource<LocalFileSystem> {
        TailingSource(fileSystem: LocalFileSystem(root: context.resolve(path)),
                      options: selection.tailerOptions(moveDirectory: context.resolve))
    }
}
