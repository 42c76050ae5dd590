import GRDB

/// The database schema, as named, versioned migrations. A migration, once released, is never
/// edited: a change is a new migration appended to ``migrator``.
///
/// Conventions (see ``StoredInteger``):
/// - node ids (`node`, `writer`, `dot_node`) and HLC logical times (`logical`, `last_logical`)
///   use the order-preserving encoding (top bit flipped), so SQL compares them like Swift does;
/// - other unsigned integers (counters, `seq`, milliseconds) are stored as their bit pattern;
/// - tables with a natural key are `WITHOUT ROWID` (the key is the clustered index, no second
///   b-tree), and every table is `STRICT`, so a wrongly typed write fails instead of being kept;
/// - a `REAL` that is `NULL` where a number is expected stands for NaN (SQLite cannot store NaN).
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-site-state", migrate: createSiteStateTables)
        migrator.registerMigration("v1-edge-bookkeeping", migrate: createEdgeBookkeepingTables)
        migrator.registerMigration("v2-raw-telemetry-epoch", migrate: addEpochToRawTelemetry)
        migrator.registerMigration("v3-telemetry-journal", migrate: TelemetryJournal.createTables)
        migrator.registerMigration("v4-dot-indexes", migrate: createDotIndexes)
        migrator.registerMigration("v5-raw-chunks", migrate: moveRawTelemetryIntoChunks)
        migrator.registerMigration("v6-rollup-by-window", migrate: clusterRollupsByWindow)
        migrator.registerMigration("v7-journal-segments", migrate: TelemetryJournal.createSegments)
        return migrator
    }

    /// The replicated site state: one table per CRDT part, plus the causal context.
    private static func createSiteStateTables(_ db: Database) throws {
        try db.execute(
            sql: """
                -- Causal context: the version vector (every counter 1...counter of node seen) and
                -- the dot cloud (dots seen beyond a gap).
                CREATE TABLE context_vector (
                    node INTEGER NOT NULL PRIMARY KEY,
                    counter INTEGER NOT NULL
                ) STRICT, WITHOUT ROWID;

                CREATE TABLE context_cloud (
                    node INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    PRIMARY KEY (node, counter)
                ) STRICT, WITHOUT ROWID;

                -- The three FieldMaps parts (device registry, twin reported, twin desired): each
                -- field's winning LWW write. Its dot is (writer, dot_counter).
                CREATE TABLE field_entry (
                    part TEXT NOT NULL CHECK (part IN ('registry', 'reported', 'desired')),
                    device TEXT NOT NULL,
                    field TEXT NOT NULL,
                    value_kind TEXT NOT NULL CHECK (value_kind IN ('null', 'bool', 'number', 'text')),
                    value_number REAL,
                    value_text TEXT,
                    value_bool INTEGER,
                    logical INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (part, device, field)
                ) STRICT, WITHOUT ROWID;

                -- Presence: one LWW register per device.
                CREATE TABLE presence (
                    device TEXT NOT NULL PRIMARY KEY,
                    online INTEGER NOT NULL,
                    since_ms INTEGER NOT NULL,
                    logical INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL
                ) STRICT, WITHOUT ROWID;

                -- PN-counters: one cell per (name, node); the higher dot wins.
                CREATE TABLE counter_cell (
                    name TEXT NOT NULL,
                    node INTEGER NOT NULL,
                    increments INTEGER NOT NULL,
                    decrements INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (name, node)
                ) STRICT, WITHOUT ROWID;

                -- Active alarms: the dot kernel, one row per (dot, alarm).
                CREATE TABLE alarm (
                    dot_node INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    device TEXT NOT NULL,
                    code TEXT NOT NULL,
                    PRIMARY KEY (dot_node, dot_counter)
                ) STRICT, WITHOUT ROWID;

                -- Telemetry rollups per (device, metric, minute window, writer); the higher dot wins.
                CREATE TABLE rollup (
                    device TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    window_start_ms INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    count INTEGER NOT NULL,
                    sum REAL,
                    min REAL,
                    max REAL,
                    last REAL,
                    last_logical INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (device, metric, window_start_ms, writer)
                ) STRICT, WITHOUT ROWID;

                -- Raw readings, grow-only by (device, seq); the earlier ingestion stamp wins.
                -- `metrics` is a MetricsBlob.
                CREATE TABLE raw_telemetry (
                    device TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    metrics BLOB NOT NULL,
                    device_time_ms INTEGER,
                    logical INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (device, seq)
                ) STRICT, WITHOUT ROWID;
                """)
    }

    /// Raw readings are keyed by (device, birth epoch, seq): a device that restarts its seq
    /// numbering with a new birth must not collide with its earlier readings. Rows from before
    /// get epoch 0.
    private static func addEpochToRawTelemetry(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE raw_telemetry_v2 (
                    device TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    metrics BLOB NOT NULL,
                    device_time_ms INTEGER,
                    logical INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (device, epoch, seq)
                ) STRICT, WITHOUT ROWID;
                -- Epoch 0, in StoredInteger.sortable form.
                INSERT INTO raw_telemetry_v2
                    SELECT device, -9223372036854775808, seq, metrics, device_time_ms, logical, writer, dot_counter FROM raw_telemetry;
                DROP TABLE raw_telemetry;
                ALTER TABLE raw_telemetry_v2 RENAME TO raw_telemetry;
                """)
    }

    /// Anti-entropy reads, per writer, the entries after a dot counter
    /// (``EdgeStore/replicaWindow(since:entriesPerWriter:)``): an index per part on (writer, dot).
    /// Dots only grow, so new rows land at the end of each index.
    private static func createDotIndexes(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE INDEX field_entry_by_dot ON field_entry (writer, dot_counter);
                CREATE INDEX presence_by_dot ON presence (writer, dot_counter);
                CREATE INDEX counter_cell_by_dot ON counter_cell (node, dot_counter);
                CREATE INDEX rollup_by_dot ON rollup (writer, dot_counter);
                CREATE INDEX raw_telemetry_by_dot ON raw_telemetry (writer, dot_counter);
                """)
    }

    /// Raw readings move from a row per reading, clustered by device, to `RawChunkStore`'s
    /// chunks: a fold rewrote several pages of every device (~700 bytes written per reading).
    private static func moveRawTelemetryIntoChunks(_ db: Database) throws {
        try RawChunkStore.createTables(db)
        try RawChunkStore.migrateRowsPerReading(db)
    }

    /// Rollup cells are clustered by (window, writer, device, metric) instead of by device: a
    /// fold upserts the cells of the current minute of every device, which are then neighbours
    /// (a few dozen pages) instead of one page per device. Every read of a cell gives its whole key.
    private static func clusterRollupsByWindow(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE rollup_by_window (
                    device TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    window_start_ms INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    count INTEGER NOT NULL,
                    sum REAL,
                    min REAL,
                    max REAL,
                    last REAL,
                    last_logical INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    PRIMARY KEY (window_start_ms, writer, device, metric)
                ) STRICT, WITHOUT ROWID;
                INSERT INTO rollup_by_window SELECT * FROM rollup;
                DROP TABLE rollup;
                ALTER TABLE rollup_by_window RENAME TO rollup;
                CREATE INDEX rollup_by_dot ON rollup (writer, dot_counter);
                """)
    }

    /// What the edge node keeps for itself: ingest bookkeeping, the HLC bound, the uplink outbox
    /// and actuator commands.
    private static func createEdgeBookkeepingTables(_ db: Database) throws {
        try db.execute(
            sql: """
                -- Per-device telemetry ingest state; missing_ranges is opaque to the store.
                CREATE TABLE ingest_state (
                    device TEXT NOT NULL PRIMARY KEY,
                    epoch INTEGER NOT NULL,
                    last_seq INTEGER,
                    received INTEGER NOT NULL,
                    duplicates INTEGER NOT NULL,
                    gaps INTEGER NOT NULL,
                    missing_ranges BLOB NOT NULL
                ) STRICT, WITHOUT ROWID;

                -- The persisted upper bound of the hybrid logical clock (a single row).
                CREATE TABLE hlc_bound (
                    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
                    bound_ms INTEGER NOT NULL
                ) STRICT;

                -- Uplink messages that must survive a restart. AUTOINCREMENT: an id is never
                -- reused, even after the newest row is acknowledged, so ids are FIFO order and an
                -- acknowledgement can never delete a later message.
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
                    retain INTEGER NOT NULL,
                    created_ms INTEGER NOT NULL,
                    dedupe_key TEXT UNIQUE
                ) STRICT;

                -- Actuator commands and their status.
                CREATE TABLE command (
                    id TEXT NOT NULL PRIMARY KEY,
                    device TEXT NOT NULL,
                    name TEXT NOT NULL,
                    args_json TEXT NOT NULL,
                    fence INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    created_ms INTEGER NOT NULL,
                    deadline_ms INTEGER NOT NULL,
                    detail TEXT
                ) STRICT, WITHOUT ROWID;

                CREATE INDEX command_by_status ON command (status, created_ms);
                """)
    }
}
