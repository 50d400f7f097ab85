-- 0001_foundation: schemas, extensions, roles, default privileges and the error code list.
--
-- Runs as a superuser (test clusters, the private cluster) or, in production, as the database owner
-- with CREATEROLE. Roles are cluster-wide and several databases of one cluster get these migrations,
-- so roles are created idempotently; grants are per database.
--
-- Error codes (SQLSTATE class IF, our own). Clients match on the code, never on message text.
-- Every message names the field or object it is about; IF001 also sets COLUMN (the parameter name).
--
--   IF001  invalid input            a parameter is missing, malformed or out of range (COLUMN = parameter)
--   IF002  not allowed              the caller has no identity, lacks the right, or cannot see the object
--   IF003  wrong stage              the invoice (or task) is not in a stage that allows this command
--   IF004  duplicate invoice        same counterparty + supplier number + (date or amount) as a live invoice
--   IF005  separation of duties     initiator approving/paying own invoice, approver paying, self-substitution
--   IF006  concurrent change        the task was already decided, or the expected version is stale
--   IF007  not found                no such object (reported only where existence is not a secret)
--   IF008  append-only              UPDATE, DELETE or TRUNCATE on the audit log (refused even for the owner)
--   IF009  immutable content        content of a submitted invoice changed outside a return for rework
--   IF010  amount exceeded          payments would add up to more than the invoice amount
--   IF011  conflict                 overlapping assignment or substitution, duplicate counterparty, ambiguous chain
--
-- The full list with examples lives in docs/sql-api.md.

CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_owner') THEN
        CREATE ROLE invoiceflow_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_employee') THEN
        CREATE ROLE invoiceflow_employee NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_treasurer') THEN
        CREATE ROLE invoiceflow_treasurer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_accountant') THEN
        CREATE ROLE invoiceflow_accountant NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_chief_accountant') THEN
        CREATE ROLE invoiceflow_chief_accountant NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_cfo') THEN
        CREATE ROLE invoiceflow_cfo NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_payroll') THEN
        CREATE ROLE invoiceflow_payroll NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_auditor') THEN
        CREATE ROLE invoiceflow_auditor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_admin') THEN
        CREATE ROLE invoiceflow_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_daemon') THEN
        -- LOGIN, but nothing of its own: it sees data only while acting for a person (invariant 5).
        CREATE ROLE invoiceflow_daemon LOGIN;
    END IF;
END
$$;

-- Finance groups are employees too: every person's login role is in invoiceflow_employee, and the
-- finance groups only add the EXECUTE right on finance commands. Which subdivisions a finance person
-- serves is data (assignments), not one database role per subdivision.
GRANT invoiceflow_employee TO invoiceflow_treasurer, invoiceflow_accountant, invoiceflow_chief_accountant,
    invoiceflow_cfo, invoiceflow_payroll;
-- The daemon calls the same command functions as people, acting for one of them.
GRANT invoiceflow_employee TO invoiceflow_daemon;

-- A non-superuser migrator (the database owner with CREATEROLE) must be able to SET ROLE to the owner.
DO $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        EXECUTE format('GRANT invoiceflow_owner TO %I', current_user);
    END IF;
END
$$;

-- Temporary objects shadow names in functions that forget pg_temp (CVE-2007-2138 family).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO invoiceflow_employee, invoiceflow_auditor, '
        'invoiceflow_admin, invoiceflow_daemon', current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS invoiceflow AUTHORIZATION invoiceflow_owner;
ALTER SCHEMA invoiceflow OWNER TO invoiceflow_owner;
COMMENT ON SCHEMA invoiceflow IS
    'InvoiceFlow: company structure, invoice registry, command functions (the only write path), views.';
CREATE SCHEMA IF NOT EXISTS invoiceflow_private AUTHORIZATION invoiceflow_owner;
COMMENT ON SCHEMA invoiceflow_private IS
    'InvoiceFlow internals (routing work queue, audit chain head, policy helpers). App roles have USAGE because policies call '
    'its helpers as the querying role, but every object in it is closed to PUBLIC and granted one by one.';

REVOKE ALL ON SCHEMA invoiceflow FROM PUBLIC;
REVOKE ALL ON SCHEMA invoiceflow_private FROM PUBLIC;
GRANT USAGE ON SCHEMA invoiceflow TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin,
    invoiceflow_daemon;
-- Policies call helpers in the private schema as the querying role, so USAGE is needed there; every
-- object in it has its privileges revoked from PUBLIC and granted one by one.
GRANT USAGE ON SCHEMA invoiceflow_private TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin,
    invoiceflow_daemon;

-- Functions get EXECUTE for PUBLIC by default (P25); objects the owner creates start closed.
ALTER DEFAULT PRIVILEGES FOR ROLE invoiceflow_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE invoiceflow_owner REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE invoiceflow_owner REVOKE ALL ON SEQUENCES FROM PUBLIC;
