/// A failure of a running pipeline, with the context needed to act on it from a log line.
///
/// `description` never contains secrets or row values: it is what goes to the log.
public struct ConnectorError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }
        /// A file or object could not be read or written.
        public static let io = Code(raw: "io")
        /// The remote end is not reachable right now; the engine retries with backoff.
        public static let notConnected = Code(raw: "not connected")
        /// Credentials were refused. Not retried in a storm.
        public static let authentication = Code(raw: "authentication failed")
        /// The data or its layout does not match what the pipeline declares.
        public static let invalidData = Code(raw: "invalid data")
        /// A plugin was configured in a way that can only be detected at run time.
        public static let configuration = Code(raw: "configuration")
        /// The checkpoint state could not be loaded or saved.
        public static let checkpoint = Code(raw: "checkpoint")
        /// A commit was asked of a sink whose earlier write failed: it must be opened again first.
        public static let sinkFailed = Code(raw: "sink failed")
        /// Another writer committed the pipeline's checkpoint since this run opened its sink (two
        /// daemons ran it at once): nothing of this commit landed; the retry reopens from theirs.
        public static let fenced = Code(raw: "fenced")
        /// The sink rolled back what it held since its last commit so that the same records can be
        /// loaded again more carefully (one of them was refused, and the fast way of loading could
        /// not say which). The engine reads again from the last commit at once, without backoff.
        public static let replay = Code(raw: "replay")
        /// Anything else; the message says what.
        public static let other = Code(raw: "error")
    }

    public var code: Code
    public var message: String
    public var pipeline: String?
    public var plugin: String?
    public var file: String?
    public var line: Int64?
    /// The error this one was made from (e.g. a `PQError` with its SQLSTATE), kept for callers that
    /// act on it; its text is already in `message`.
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, pipeline: String? = nil, plugin: String? = nil, file: String? = nil, line: Int64? = nil,
                underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.pipeline = pipeline
        self.plugin = plugin
        self.file = file
        self.line = line
        self.underlying = underlying
    }

    public var description: String {
        var parts: [String] = []
        if let pipeline { parts.append("pipeline \(pipeline)") }
        if let plugin { parts.append(plugin) }
        if let file { parts.append(line.map { "\(file):\($0)" } ?? file) }
        let prefix = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return prefix + message
    }

    /// The same error with the pipeline name filled in if it was missing.
    public func inPipeline(_ name: String) -> ConnectorError {
        var e = self
        if e.pipeline == nil { e.pipeline = name }
        return e
    }
}
