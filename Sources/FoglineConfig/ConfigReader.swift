public import Yams

/// One problem in a configuration file, located by line.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `FILE:LINE: message`, the form editors and CI annotate; problems with command-line flags
    /// (line 0) read `command line: message`.
    public var description: String { line == 0 ? "command line: \(message)" : "\(file):\(line): \(message)" }
}

/// Every problem found in a configuration, not just the first.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Reads a YAML mapping key by key, collecting a located problem for every unknown key, wrong
/// type or invalid value instead of stopping at the first.
public final class ConfigReader {
    public let file: String
    /// Keys a file typically starts with, for the message when it is not a mapping (`site:, node:, …`).
    let exampleKeys: String
    public private(set) var problems: [ConfigProblem] = []

    public init(file: String, exampleKeys: String) {
        self.file = file
        self.exampleKeys = exampleKeys
    }

    /// Parses `text`; a syntax error becomes a problem.
    public func root(of text: String) -> Node.Mapping? {
        do {
            guard let node = try Yams.compose(yaml: text) else { return Node.Mapping([]) }
            guard let mapping = node.mapping else {
                report(node, "the file must be a mapping of keys (\(exampleKeys), …), not a \(kind(of: node))")
                return nil
            }
            return mapping
        } catch let error as YamlError {
            let (line, problem) = Self.location(of: error)
            problems.append(ConfigProblem(file: file, line: line, message: "not valid YAML: \(problem)"))
            return nil
        } catch {
            problems.append(ConfigProblem(file: file, line: 1, message: "not valid YAML: \(error)"))
            return nil
        }
    }

    /// Reports keys of `mapping` outside `known` (with the keys it does know, to spot typos).
    public func rejectUnknownKeys(in mapping: Node.Mapping, known: [String], section: String) {
        for (key, _) in mapping {
            guard let name = key.string, !known.contains(name) else { continue }
            report(key, "unknown key `\(name)` in \(section); known keys: \(known.joined(separator: ", "))")
        }
    }

    /// The log levels the programs take (swift-log's, lower case).
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// A log level under `key` (one of ``logLevels``), or nil when absent or reported.
    public func logLevel(_ mapping: Node.Mapping, _ key: String) -> String? {
        string(mapping, key, validate: {
            Self.logLevels.contains($0) ? nil : "must be one of \(Self.logLevels.joined(separator: ", "))"
        })
    }

    /// The string at `key`, or nil when it is absent or reported: not a string, or `validate`
    /// returned a problem with it.
    public func string(_ mapping: Node.Mapping, _ key: String, validate: ((String) -> String?)? = nil) -> String? {
        string(mapping, key, as: { text in
            if let problem = validate?(text) { return .failure(ValueProblem(problem)) }
            return .success(text)
        })
    }

    /// The string at `key` as `read` makes it out (the text is read once): a problem `read`
    /// returns is reported at the key, and the result is nil.
    public func string<Value>(_ mapping: Node.Mapping, _ key: String, as read: (String) -> Result<Value, ValueProblem>) -> Value? {
        guard let node = mapping[key], !isNull(node) else { return nil }
        guard case .scalar(let scalar) = node else {
            report(node, "`\(key)` must be a string, not a \(kind(of: node))")
            return nil
        }
        switch read(scalar.string) {
        case .success(let value): return value
        case .failure(let problem):
            report(node, "`\(key)`: \(problem.message)")
            return nil
        }
    }

    public func integer(_ mapping: Node.Mapping, _ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let node = mapping[key], !isNull(node) else { return nil }
        guard let value = node.int else {
            report(node, "`\(key)` must be a whole number, got `\(node.string ?? kind(of: node))`")
            return nil
        }
        guard range.contains(value) else {
            report(node, "`\(key)` must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            return nil
        }
        return value
    }

    public func bool(_ mapping: Node.Mapping, _ key: String) -> Bool? {
        guard let node = mapping[key], !isNull(node) else { return nil }
        guard let value = node.bool else {
            report(node, "`\(key)` must be true or false, got `\(node.string ?? kind(of: node))`")
            return nil
        }
        return value
    }

    public func section(_ mapping: Node.Mapping, _ key: String) -> Node.Mapping? {
        guard let node = mapping[key], !isNull(node) else { return nil }
        guard let section = node.mapping else {
            report(node, "`\(key)` must be a mapping of keys, not a \(kind(of: node))")
            return nil
        }
        return section
    }

    public func report(_ node: Node, _ message: String) {
        problems.append(ConfigProblem(file: file, line: node.mark?.line ?? 1, message: message))
    }

    /// A command-line flag's argument (`value`, nil when the flag was not given) as `read` makes
    /// it out; a problem is reported as `flag: problem`, and the result is nil.
    public func flag<Value>(_ flag: String, _ value: String?, as read: (String) -> Result<Value, ValueProblem>) -> Value? {
        guard let value else { return nil }
        switch read(value) {
        case .success(let read): return read
        case .failure(let problem):
            report(line: 0, "\(flag): \(problem.message)")
            return nil
        }
    }

    public func report(line: Int, _ message: String) {
        problems.append(ConfigProblem(file: file, line: line, message: message))
    }

    private func isNull(_ node: Node) -> Bool { node.null != nil }

    private func kind(of node: Node) -> String {
        switch node {
        case .scalar: "scalar"
        case .mapping: "mapping"
        case .sequence: "list"
        case .alias: "alias"
        }
    }

    private static func location(of error: YamlError) -> (line: Int, problem: String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            (mark.line, problem)
        case .duplicatedKeysInMapping(let duplicates, _):
            (1, "duplicate keys \(duplicates.joined(separator: ", "))")
        default:
            (1, "\(error)")
        }
    }
}
