internal import FoglineCore

/// The audit chains kept per (site, node), shared by both backends: reading the stored head,
/// checking an append against it with ``AuditChain/verify(_:from:)``, and the rows.
enum AuditSQL {
    static let selectHead = """
        SELECT idx, ts_logical, ts_node, hash FROM @audit_entry WHERE site = ? AND node = ?
        ORDER BY idx DESC LIMIT 1
        """

    static let selectSite = """
        SELECT node, idx, ts_logical, ts_node, kind, key, detail, previous_hash, hash FROM @audit_entry
        WHERE site = ? ORDER BY node, idx
        """

    static let insert = """
        INSERT INTO @audit_entry (site, node, idx, ts_logical, ts_node, kind, key, detail, previous_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// The anchor after the stored head row (genesis when none).
    static func anchor(_ rows: [SQLRow]) throws -> AuditChain.Anchor {
        guard let row = rows.first else { return .genesis }
        guard let hash = AuditHash(bytes: try row.blob(3)) else { throw row.unreadable("the hash is not 32 bytes") }
        return AuditChain.Anchor(
            index: try row.bits(0), hash: hash,
            timestamp: HLCTimestamp(logical: try row.sortable(1), node: NodeID(rawValue: try row.sortable(2))))
    }

    static func entries(_ rows: [SQLRow]) throws -> [String: [AuditEntry]] {
        var chains: [String: [AuditEntry]] = [:]
        for row in rows {
            guard let previous = AuditHash(bytes: try row.blob(7)), let hash = AuditHash(bytes: try row.blob(8)) else {
                throw row.unreadable("a hash is not 32 bytes")
            }
            let node = try row.text(0)
            chains[node, default: []].append(AuditEntry(
                index: try row.bits(1), node: node,
                timestamp: HLCTimestamp(logical: try row.sortable(2), node: NodeID(rawValue: try row.sortable(3))),
                kind: try row.text(4), key: try row.text(5), detail: try row.text(6), previousHash: previous, hash: hash))
        }
        return chains
    }

    /// What an append stores after `head`, or the error that refuses the whole call. Entries at or
    /// below the head are a resend and skipped; the rest must continue the chain.
    static func append(
        _ entries: [AuditEntry], after head: AuditChain.Anchor, site: String, node: String
    ) throws(AuditAppendError) -> (statements: [SQLStatement], storedThrough: UInt64) {
        let fresh = entries.filter { $0.index > head.index }.sorted { $0.index < $1.index }
        if let stranger = fresh.first(where: { $0.node != node }) {
            throw AuditAppendError(
                site: site, node: node, index: stranger.index,
                reason: "it belongs to the chain of node \(stranger.node), not of node \(node); check which node sent it")
        }
        switch AuditChain.verify(fresh, from: head) {
        case .invalid(let index, let failure):
            throw AuditAppendError(site: site, node: node, index: index, reason: reason(failure, index: index))
        case .valid(let end):
            let statements = fresh.map { entry in
                SQLStatement(insert, [
                    .text(site), .text(node), .bits(entry.index), .sortable(entry.timestamp.logical),
                    .sortable(entry.timestamp.node.rawValue), .text(entry.kind), .text(entry.key), .text(entry.detail),
                    .blob(entry.previousHash.bytes), .blob(entry.hash.bytes),
                ])
            }
            return (statements, end.index)
        }
    }

    private static func reason(_ failure: AuditChain.Failure, index: UInt64) -> String {
        switch failure {
        case .nonConsecutiveIndex(let expected, let found):
            found > expected
                ? "entries \(expected) to \(found - 1) are missing (a gap); the node must resend its chain from entry \(expected)"
                : "entry \(found) came where entry \(expected) was expected; the node must resend its chain in index order"
        case .brokenLink:
            "its previous hash does not match entry \(index - 1); the chain was altered or the node restarted it"
        case .badHash:
            "its hash does not match its contents; the entry was altered on the way or at the node"
        case .timeWentBackwards:
            "its timestamp is not later than entry \(index - 1)'s; the chain was altered"
        }
    }
}

/// Multi-part batches, node contacts and raw-telemetry summaries: the rest of the shared SQL.
enum BookkeepingSQL {
    static let deleteExpiredParts = "DELETE FROM @batch_part WHERE site = ? AND node = ? AND received_ms < ?"
    static let insertPart = """
        INSERT INTO @batch_part (site, node, batch_id, part_index, part_count, compression, base, payload, received_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, node, batch_id, part_index) DO NOTHING
        """
    static let selectParts = """
        SELECT part_index, part_count, compression, base, payload, received_ms FROM @batch_part
        WHERE site = ? AND node = ? AND batch_id = ? ORDER BY part_index
        """
    static let deleteBatch = "DELETE FROM @batch_part WHERE site = ? AND node = ? AND batch_id = ?"

    /// The statements before reading a batch's parts: drop expired parts, keep this one.
    static func keep(_ part: StoredBatchPart, site: String, node: String) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        if part.receivedWallMilliseconds > StoredBatchPart.expiryMilliseconds {
            statements.append(SQLStatement(deleteExpiredParts, [
                .text(site), .text(node), .bits(part.receivedWallMilliseconds - StoredBatchPart.expiryMilliseconds),
            ]))
        }
        statements.append(SQLStatement(insertPart, [
            .text(site), .text(node), .bits(part.batchID), .integer(Int64(part.index)), .integer(Int64(part.count)),
            .integer(Int64(part.compression)), .blob(part.base), .blob(part.payload), .bits(part.receivedWallMilliseconds),
        ]))
        return statements
    }

    static func selectParts(of part: StoredBatchPart, site: String, node: String) -> SQLStatement {
        SQLStatement(selectParts, [.text(site), .text(node), .bits(part.batchID)])
    }

    /// Every part of the batch, in index order, when the rows hold exactly parts `0..<count`.
    static func completeBatch(_ rows: [SQLRow], of part: StoredBatchPart) throws -> [StoredBatchPart]? {
        guard rows.count == Int(part.count) else { return nil }
        var parts: [StoredBatchPart] = []
        for (position, row) in rows.enumerated() {
            guard try row.int(0) == Int64(position) else { return nil }
            parts.append(StoredBatchPart(
                batchID: part.batchID, index: UInt32(position), count: UInt32(truncatingIfNeeded: try row.int(1)),
                compression: Int(try row.int(2)), base: try row.blob(3), payload: try row.blob(4),
                receivedWallMilliseconds: try row.bits(5)))
        }
        return parts
    }

    static func deleteBatch(of part: StoredBatchPart, site: String, node: String) -> SQLStatement {
        SQLStatement(deleteBatch, [.text(site), .text(node), .bits(part.batchID)])
    }

    // MARK: Contacts

    /// Keeps the latest contact.
    static let upsertContact = """
        INSERT INTO @contact AS t (site, node, last_ms) VALUES (?, ?, ?)
        ON CONFLICT (site, node) DO UPDATE SET last_ms = excluded.last_ms WHERE excluded.last_ms > t.last_ms
        """
    static let selectContacts = "SELECT node, last_ms FROM @contact WHERE site = ?"

    static func contacts(_ rows: [SQLRow]) throws -> [String: UInt64] {
        var contacts: [String: UInt64] = [:]
        for row in rows { contacts[try row.text(0)] = try row.bits(1) }
        return contacts
    }

    // MARK: Site status

    /// Keeps the latest status of the site, whichever node sent it.
    static let upsertSiteStatus = """
        INSERT INTO @site_status AS t (site, node, received_ms, status) VALUES (?, ?, ?, ?)
        ON CONFLICT (site) DO UPDATE SET node = excluded.node, received_ms = excluded.received_ms, status = excluded.status
        WHERE excluded.received_ms >= t.received_ms
        """
    static let selectSiteStatus = "SELECT node, received_ms, status FROM @site_status WHERE site = ?"

    static func upsertSiteStatus(_ status: [UInt8], site: String, node: String, wallMilliseconds: UInt64) -> SQLStatement {
        SQLStatement(upsertSiteStatus, [.text(site), .text(node), .bits(wallMilliseconds), .blob(status)])
    }

    static func siteStatus(_ rows: [SQLRow]) throws -> StoredSiteStatus? {
        guard let row = rows.first else { return nil }
        return StoredSiteStatus(node: try row.text(0), receivedWallMilliseconds: try row.bits(1), status: try row.blob(2))
    }

    // MARK: Sites

    static let insertSite = "INSERT INTO @site (name) VALUES (?) ON CONFLICT (name) DO NOTHING"
    static let selectSites = "SELECT name FROM @site"

    // MARK: Raw telemetry summary

    /// Per device and epoch: distinct readings and the highest seq.
    static let selectTelemetry = """
        SELECT device, epoch, COUNT(*), MAX(seq) FROM @raw_telemetry WHERE site = ? GROUP BY device, epoch
        """

    static func telemetry(_ rows: [SQLRow]) throws -> [String: RawTelemetrySummary] {
        RawTelemetrySummary.summarize(try rows.map { row in
            RawTelemetrySummary.EpochCount(
                device: try row.text(0), epoch: try row.sortable(1), readings: UInt64(try row.int(2)), highestSeq: try row.bits(3))
        })
    }
}
