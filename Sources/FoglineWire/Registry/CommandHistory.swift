public import FoglineCore

/// A device's most recent actuator commands and their status, replicated as its `commands`
/// registry field (a JSON array in a string, oldest first) so that every node, the aggregator
/// and `fogline-cloud dash` can show them.
///
/// The owner node rewrites the field whenever one of its commands starts or reaches a final
/// status. The field is a last-writer-wins register: if two nodes issue commands to one device at
/// the same time (ownership moving), the later write wins and the other node's entry drops out of
/// the history. The issuing node's command store stays the record of every command
/// (`GET /v1/commands/{id}` on its admin API).
public struct CommandHistory: Sendable, Equatable {
    /// One command as the history keeps it.
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var name: String
        /// `pending`, `ok`, `rejected`, `failed` or `timed_out`.
        public var status: String
        /// When the command was issued (the issuing node's HLC wall milliseconds).
        public var createdMilliseconds: UInt64
        /// The device's `detail`, or why the edge gave up.
        public var detail: String?

        public init(id: String, name: String, status: String, createdMilliseconds: UInt64, detail: String? = nil) {
            self.id = id
            self.name = name
            self.status = status
            self.createdMilliseconds = createdMilliseconds
            self.detail = detail
        }
    }

    /// The registry field that holds the history.
    public static let registryField = "commands"
    /// How many commands the history keeps: enough for a dashboard, small enough that every
    /// rewrite replicates a few hundred bytes.
    public static let capacity = 5

    /// Oldest first, at most ``capacity``.
    public private(set) var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = []
        for entry in entries { record(entry) }
    }

    /// Reads the registry field's value. A missing or unreadable value is an empty history, and
    /// unreadable entries are skipped: a newer node may write a shape this one does not know.
    public init(registryValue: FieldValue?) {
        self.init()
        guard case .string(let text)? = registryValue, let list = (try? StrictJSON.parse(text))?.arrayElements else { return }
        for element in list {
            guard let id = element["id"]?.stringValue, let name = element["name"]?.stringValue,
                let status = element["status"]?.stringValue,
                let created = element["created"]?.exactIntegerValue, created >= 0
            else { continue }
            record(Entry(id: id, name: name, status: status, createdMilliseconds: UInt64(created), detail: element["detail"]?.stringValue))
        }
    }

    /// Adds `entry`, or replaces the entry with its id; keeps the newest ``capacity`` by issue time.
    public mutating func record(_ entry: Entry) {
        entries.removeAll { $0.id == entry.id }
        let position = entries.firstIndex { ($0.createdMilliseconds, $0.id) > (entry.createdMilliseconds, entry.id) } ?? entries.endIndex
        entries.insert(entry, at: position)
        if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
    }

    /// The history as an API shows it: `[{"id", "name", "status", "created", "detail"?}, …]`.
    public var json: JSONValue {
        .array(entries.map { entry in
            var members: [(key: String, value: JSONValue)] = [
                (key: "id", value: .string(entry.id)),
                (key: "name", value: .string(entry.name)),
                (key: "status", value: .string(entry.status)),
                (key: "created", value: .number(Double(entry.createdMilliseconds))),
            ]
            if let detail = entry.detail { members.append((key: "detail", value: .string(detail))) }
            return .object(members)
        })
    }

    /// The value to write into the registry field.
    public var registryValue: FieldValue { .string(json.serializedString()) }
}
