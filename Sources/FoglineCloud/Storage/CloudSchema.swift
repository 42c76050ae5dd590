/// The aggregator's tables, shared by both backends (in ``SQLDialect`` template form). They
/// mirror the edge's site-state tables (FoglineStore's `StoreSchema`) with a `site` column first
/// in every key, plus what only the cloud keeps: the site list (whose rows PostgreSQL merges lock),
/// the audit chains, incomplete multi-part batches, the nodes' last contact and each site's latest
/// status (added later: `IF NOT EXISTS` creates it in databases made before).
///
/// Conventions (see ``StoredInteger``): node ids (`node`, `writer`, `dot_node`, `ts_node`), HLC
/// logical times (`logical`, `last_logical`, `ts_logical`) and raw epochs use the
/// order-preserving encoding; other unsigned integers their bit pattern; a `NULL` `{real}` where
/// a number is expected stands for NaN; booleans are `0`/`1` integers.
///
/// Every part table whose entries carry a dot has an index on `(site, writer, dot_counter)`
/// (`node` for counters): ``CloudStore/batch(site:since:maxEntries:)`` reads, per writer, the
/// oldest entries a peer lacks.
enum CloudSchema {
    /// One statement each (PostgreSQL runs them one at a time); all `IF NOT EXISTS`, so opening an
    /// existing database changes nothing.
    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS @site (
            name TEXT NOT NULL PRIMARY KEY
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @context_vector (
            site TEXT NOT NULL,
            node {int} NOT NULL,
            counter {int} NOT NULL,
            PRIMARY KEY (site, node)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @context_cloud (
            site TEXT NOT NULL,
            node {int} NOT NULL,
            counter {int} NOT NULL,
            PRIMARY KEY (site, node, counter)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @field_entry (
            site TEXT NOT NULL,
            part TEXT NOT NULL CHECK (part IN ('registry', 'reported', 'desired')),
            device TEXT NOT NULL,
            field TEXT NOT NULL,
            value_kind TEXT NOT NULL CHECK (value_kind IN ('null', 'bool', 'number', 'text')),
            value_number {real},
            value_text TEXT,
            value_bool {int},
            logical {int} NOT NULL,
            writer {int} NOT NULL,
            dot_counter {int} NOT NULL,
            PRIMARY KEY (site, part, device, field)
        ) {table}
        """,
        "CREATE INDEX IF NOT EXISTS field_entry_by_dot ON @field_entry (site, writer, dot_counter)",
        """
        CREATE TABLE IF NOT EXISTS @presence (
            site TEXT NOT NULL,
            device TEXT NOT NULL,
            online {int} NOT NULL,
            since_ms {int} NOT NULL,
            logical {int} NOT NULL,
            writer {int} NOT NULL,
            dot_counter {int} NOT NULL,
            PRIMARY KEY (site, device)
        ) {table}
        """,
        "CREATE INDEX IF NOT EXISTS presence_by_dot ON @presence (site, writer, dot_counter)",
        """
        CREATE TABLE IF NOT EXISTS @counter_cell (
            site TEXT NOT NULL,
            name TEXT NOT NULL,
            node {int} NOT NULL,
            increments {int} NOT NULL,
            decrements {int} NOT NULL,
            dot_counter {int} NOT NULL,
            PRIMARY KEY (site, name, node)
        ) {table}
        """,
        "CREATE INDEX IF NOT EXISTS counter_cell_by_dot ON @counter_cell (site, node, dot_counter)",
        """
        CREATE TABLE IF NOT EXISTS @alarm (
            site TEXT NOT NULL,
            dot_node {int} NOT NULL,
            dot_counter {int} NOT NULL,
            device TEXT NOT NULL,
            code TEXT NOT NULL,
            PRIMARY KEY (site, dot_node, dot_counter)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @rollup (
            site TEXT NOT NULL,
            device TEXT NOT NULL,
            metric TEXT NOT NULL,
            window_start_ms {int} NOT NULL,
            writer {int} NOT NULL,
            count {int} NOT NULL,
            sum {real},
            min {real},
            max {real},
            last {real},
            last_logical {int} NOT NULL,
            dot_counter {int} NOT NULL,
            PRIMARY KEY (site, device, metric, window_start_ms, writer)
        ) {table}
        """,
        "CREATE INDEX IF NOT EXISTS rollup_by_dot ON @rollup (site, writer, dot_counter)",
        """
        CREATE TABLE IF NOT EXISTS @raw_telemetry (
            site TEXT NOT NULL,
            device TEXT NOT NULL,
            epoch {int} NOT NULL,
            seq {int} NOT NULL,
            metrics {blob} NOT NULL,
            device_time_ms {int},
            logical {int} NOT NULL,
            writer {int} NOT NULL,
            dot_counter {int} NOT NULL,
            PRIMARY KEY (site, device, epoch, seq)
        ) {table}
        """,
        "CREATE INDEX IF NOT EXISTS raw_telemetry_by_dot ON @raw_telemetry (site, writer, dot_counter)",
        """
        CREATE TABLE IF NOT EXISTS @audit_entry (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            idx {int} NOT NULL,
            ts_logical {int} NOT NULL,
            ts_node {int} NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            detail TEXT NOT NULL,
            previous_hash {blob} NOT NULL,
            hash {blob} NOT NULL,
            PRIMARY KEY (site, node, idx)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @batch_part (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            batch_id {int} NOT NULL,
            part_index {int} NOT NULL,
            part_count {int} NOT NULL,
            compression {int} NOT NULL,
            base {blob} NOT NULL,
            payload {blob} NOT NULL,
            received_ms {int} NOT NULL,
            PRIMARY KEY (site, node, batch_id, part_index)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @contact (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            last_ms {int} NOT NULL,
            PRIMARY KEY (site, node)
        ) {table}
        """,
        """
        CREATE TABLE IF NOT EXISTS @site_status (
            site TEXT NOT NULL PRIMARY KEY,
            node TEXT NOT NULL,
            received_ms {int} NOT NULL,
            status {blob} NOT NULL
        ) {table}
        """,
    ]
}
