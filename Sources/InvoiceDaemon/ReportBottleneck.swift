import Logging
import PostgresClient

/// The main bottleneck report: how long invoices stay in each stage, which route steps are slowest and
/// with whom, and how much is overdue — read from the `reporting` views, so it shows exactly what the
/// connecting role may see (an auditor or `invoiceflow_reporting` login sees everything).
public struct BottleneckReport: Sendable, Equatable {
    /// Durations of finished stays in one stage (business hours count 09:00–18:00 Moscow on working days).
    public struct StageRow: Sendable, Equatable {
        /// The stage: draft, approval, rejected, payment, closing_documents.
        public var stage: String
        /// How many finished stays the figures cover.
        public var stays: Int64
        /// Median, 90th percentile and maximum in business hours.
        public var p50BusinessHours: Double
        /// 90th percentile in business hours.
        public var p90BusinessHours: Double
        /// Longest stay in business hours.
        public var maxBusinessHours: Double
        /// Median in wall-clock hours.
        public var p50WallHours: Double
        /// 90th percentile in wall-clock hours.
        public var p90WallHours: Double
        /// Longest stay in wall-clock hours.
        public var maxWallHours: Double

        /// Creates a row.
        public init(
            stage: String, stays: Int64, p50BusinessHours: Double, p90BusinessHours: Double, maxBusinessHours: Double,
            p50WallHours: Double, p90WallHours: Double, maxWallHours: Double
        ) {
            self.stage = stage
            self.stays = stays
            self.p50BusinessHours = p50BusinessHours
            self.p90BusinessHours = p90BusinessHours
            self.maxBusinessHours = maxBusinessHours
            self.p50WallHours = p50WallHours
            self.p90WallHours = p90WallHours
            self.maxWallHours = maxWallHours
        }
    }

    /// Durations of decided tasks of one route step, with the holder whose p90 is worst.
    public struct StepRow: Sendable, Equatable {
        /// The route step's key.
        public var stepKey: String
        /// How many decided tasks the figures cover.
        public var tasks: Int64
        /// Median in business hours.
        public var p50BusinessHours: Double
        /// 90th percentile in business hours.
        public var p90BusinessHours: Double
        /// Longest task in business hours.
        public var maxBusinessHours: Double
        /// The approver (task holder) with the largest p90 on this step.
        public var slowestApprover: String?
        /// That approver's p90 in business hours.
        public var slowestApproverP90BusinessHours: Double?

        /// Creates a row.
        public init(
            stepKey: String, tasks: Int64, p50BusinessHours: Double, p90BusinessHours: Double,
            maxBusinessHours: Double, slowestApprover: String?, slowestApproverP90BusinessHours: Double?
        ) {
            self.stepKey = stepKey
            self.tasks = tasks
            self.p50BusinessHours = p50BusinessHours
            self.p90BusinessHours = p90BusinessHours
            self.maxBusinessHours = maxBusinessHours
            self.slowestApprover = slowestApprover
            self.slowestApproverP90BusinessHours = slowestApproverP90BusinessHours
        }
    }

    /// Stages in the order an invoice passes them.
    public var stages: [StageRow]
    /// The slowest steps first (by p90 business hours).
    public var steps: [StepRow]
    /// Tasks that missed their SLA (decided late or open past due).
    public var slaBreaches: Int64
    /// Of those, the ones still open.
    public var openSLABreaches: Int64
    /// Fully paid invoices still without a closing document.
    public var paidWithoutDocuments: Int64

    /// Creates a report.
    public init(
        stages: [StageRow], steps: [StepRow], slaBreaches: Int64, openSLABreaches: Int64, paidWithoutDocuments: Int64
    ) {
        self.stages = stages
        self.steps = steps
        self.slaBreaches = slaBreaches
        self.openSLABreaches = openSLABreaches
        self.paidWithoutDocuments = paidWithoutDocuments
    }

    /// The stage whose p90 business time is largest: where invoices wait longest.
    public var bottleneck: StageRow? {
        stages.max { ($0.p90BusinessHours, $1.stage) < ($1.p90BusinessHours, $0.stage) }
    }

    /// Reads the report over one connection; `stepLimit` bounds the slowest-steps list.
    public static func load(
        _ configuration: PostgresConfiguration, stepLimit: Int = 10, logger: Logger
    ) async throws -> BottleneckReport {
        let connection = try await PostgresConnection.connect(configuration, logger: logger)
        do {
            // One snapshot, so the stage figures, the step figures and the totals describe the same moment.
            let report = try await connection.transaction(.repeatableRead) { connection in
                try read(from: connection, stepLimit: stepLimit)
            }
            await connection.close()
            return report
        } catch {
            await connection.close()
            throw error
        }
    }

    private static func read(from connection: isolated PostgresConnection, stepLimit: Int) throws -> BottleneckReport {
        // Compiling these plans (large, partly never executed) costs more than running them.
        try connection.execute("SET LOCAL jit = off")
        let stageRows = try connection.query(
            """
            SELECT s.stage, s.stays, s.p50_business_hours::float8 AS p50b, s.p90_business_hours::float8 AS p90b,
                   s.max_business_hours::float8 AS maxb, s.p50_wall_hours::float8 AS p50w,
                   s.p90_wall_hours::float8 AS p90w, s.max_wall_hours::float8 AS maxw
            FROM reporting.stage_duration_stats AS s
            WHERE s.dimension = 'stage'
            ORDER BY pg_catalog.array_position(
                ARRAY['draft', 'approval', 'rejected', 'payment', 'closing_documents']::text[], s.stage), s.stage
            """)
        let stages = try stageRows.map { row in
            StageRow(
                stage: try row.decode("stage"), stays: try row.decode("stays"),
                p50BusinessHours: try row.decode("p50b"), p90BusinessHours: try row.decode("p90b"),
                maxBusinessHours: try row.decode("maxb"), p50WallHours: try row.decode("p50w"),
                p90WallHours: try row.decode("p90w"), maxWallHours: try row.decode("maxw"))
        }
        let stepRows = try connection.query(
            """
            SELECT s.step_key, s.tasks, s.p50_business_hours::float8 AS p50b, s.p90_business_hours::float8 AS p90b,
                   s.max_business_hours::float8 AS maxb, a.key AS approver, a.p90_business_hours::float8 AS approver_p90
            FROM reporting.step_duration_stats AS s
            LEFT JOIN LATERAL (
                SELECT x.key, x.p90_business_hours FROM reporting.step_duration_stats AS x
                WHERE x.dimension = 'approver' AND x.step_key = s.step_key
                ORDER BY x.p90_business_hours DESC, x.key LIMIT 1) AS a ON true
            WHERE s.dimension = 'step'
            ORDER BY s.p90_business_hours DESC, s.step_key
            LIMIT \(Int64(stepLimit))
            """)
        let steps = try stepRows.map { row in
            StepRow(
                stepKey: try row.decode("step_key"), tasks: try row.decode("tasks"),
                p50BusinessHours: try row.decode("p50b"), p90BusinessHours: try row.decode("p90b"),
                maxBusinessHours: try row.decode("maxb"), slowestApprover: try row.decode("approver"),
                slowestApproverP90BusinessHours: try row.decode("approver_p90"))
        }
        let totals = try connection.query(
            """
            -- Snapshots for auditors: live counts would walk every task and every invoice awaiting documents.
            SELECT (SELECT coalesce(pg_catalog.sum(b.breaches), 0)::int8 FROM reporting.sla_breach_summary AS b)
                       AS breaches,
                   (SELECT coalesce(pg_catalog.sum(b.open_breaches), 0)::int8 FROM reporting.sla_breach_summary AS b)
                       AS open_breaches,
                   (SELECT coalesce(pg_catalog.sum(b.invoices), 0)::int8
                    FROM reporting.paid_without_documents_by_collector AS b) AS undocumented
            """)[0]
        return BottleneckReport(
            stages: stages, steps: steps, slaBreaches: try totals.decode("breaches"),
            openSLABreaches: try totals.decode("open_breaches"), paidWithoutDocuments: try totals.decode("undocumented")
        )
    }
}
