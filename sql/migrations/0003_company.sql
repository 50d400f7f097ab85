-- 0003_company: the company structure (subdivisions, departments, positions, employees, assignments,
-- substitutions), counterparties, invoice types, and the caller's identity.
--
-- Objects are created as invoiceflow_owner so that no login role owns anything (invariant 4).

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow.subdivision (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT subdivision_pkey PRIMARY KEY,
    code text NOT NULL CONSTRAINT subdivision_code_key UNIQUE
        CONSTRAINT subdivision_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    name text NOT NULL CONSTRAINT subdivision_name_not_blank CHECK (btrim(name) <> ''),
    inn text NOT NULL CONSTRAINT subdivision_inn_valid CHECK (invoiceflow.inn_is_valid(inn)),
    kpp text CONSTRAINT subdivision_kpp_valid CHECK (invoiceflow.kpp_is_valid(kpp)),
    bik text NOT NULL CONSTRAINT subdivision_bik_valid CHECK (invoiceflow.bik_is_valid(bik)),
    settlement_account text NOT NULL CONSTRAINT subdivision_settlement_account_valid
        CHECK (invoiceflow.settlement_account_is_valid(settlement_account, bik)),
    correspondent_account text CONSTRAINT subdivision_correspondent_account_valid
        CHECK (invoiceflow.correspondent_account_is_valid(correspondent_account, bik)),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow.subdivision IS
    'A tenant: a legal entity or separate unit of the group with its own requisites; pays and receives invoices.';
COMMENT ON COLUMN invoiceflow.subdivision.code IS 'Stable short key used in commands and routes (e.g. head_office).';
COMMENT ON COLUMN invoiceflow.subdivision.inn IS 'ИНН, 10 or 12 digits with check digits (0002 validators).';
COMMENT ON COLUMN invoiceflow.subdivision.kpp IS 'КПП; NULL only for an individual entrepreneur.';
COMMENT ON COLUMN invoiceflow.subdivision.bik IS 'БИК of the bank holding the settlement account.';
COMMENT ON COLUMN invoiceflow.subdivision.settlement_account IS 'Расчётный счёт, key checked against the БИК.';
COMMENT ON COLUMN invoiceflow.subdivision.correspondent_account IS 'Корреспондентский счёт of the bank, key checked against the БИК.';

CREATE TABLE invoiceflow.department (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT department_pkey PRIMARY KEY,
    subdivision_id bigint NOT NULL CONSTRAINT department_subdivision_fkey REFERENCES invoiceflow.subdivision (id),
    parent_id bigint,
    name text NOT NULL CONSTRAINT department_name_not_blank CHECK (btrim(name) <> ''),
    CONSTRAINT department_id_subdivision_key UNIQUE (id, subdivision_id),
    CONSTRAINT department_parent_same_subdivision_fkey FOREIGN KEY (parent_id, subdivision_id)
        REFERENCES invoiceflow.department (id, subdivision_id),
    CONSTRAINT department_not_own_parent CHECK (parent_id IS DISTINCT FROM id),
    CONSTRAINT department_name_key UNIQUE (subdivision_id, name)
);
COMMENT ON TABLE invoiceflow.department IS
    'Departments as a tree inside one subdivision (ЦФО); the parent must belong to the same subdivision.';
COMMENT ON COLUMN invoiceflow.department.parent_id IS 'Enclosing department; NULL for a top-level department.';
CREATE INDEX department_parent_idx ON invoiceflow.department (parent_id);

CREATE TABLE invoiceflow.position (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT position_pkey PRIMARY KEY,
    code text NOT NULL CONSTRAINT position_code_key UNIQUE
        CONSTRAINT position_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
    name_ru text NOT NULL,
    name_en text NOT NULL,
    finance_function text CONSTRAINT position_finance_function_check CHECK (finance_function IN
        ('ceo', 'cfo', 'chief_accountant', 'accountant', 'treasurer', 'payroll', 'document_clerk')),
    is_department_head boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE invoiceflow.position IS
    'A job position routes refer to (never people), e.g. head of purchasing, CFO, treasurer.';
COMMENT ON COLUMN invoiceflow.position.finance_function IS
    'Finance role this position gives in the subdivision of the assignment: it decides what of that '
    'subdivision''s invoices the holder sees and may pay, collect or close. NULL for ordinary positions.';
COMMENT ON COLUMN invoiceflow.position.is_department_head IS 'The holder is the head of the department (ЦФО) of the assignment.';

INSERT INTO invoiceflow.position (code, name_ru, name_en, finance_function, is_department_head) VALUES
    ('ceo', 'Генеральный директор', 'CEO', 'ceo', true),
    ('cfo', 'Финансовый директор', 'CFO', 'cfo', true),
    ('chief_accountant', 'Главный бухгалтер', 'Chief accountant', 'chief_accountant', true),
    ('accountant', 'Бухгалтер', 'Accountant', 'accountant', false),
    ('treasurer', 'Казначей', 'Treasurer', 'treasurer', false),
    ('payroll_accountant', 'Бухгалтер по заработной плате', 'Payroll accountant', 'payroll', false),
    ('document_clerk', 'Бухгалтер по первичным документам', 'Document clerk', 'document_clerk', false),
    ('head_of_department', 'Руководитель подразделения', 'Head of department', NULL, true),
    ('head_of_purchasing', 'Руководитель закупок', 'Head of purchasing', NULL, true),
    ('warehouse_manager', 'Заведующий складом', 'Warehouse manager', NULL, true),
    ('logistics_manager', 'Менеджер по логистике', 'Logistics manager', NULL, false),
    ('specialist', 'Специалист', 'Specialist', NULL, false);

CREATE TABLE invoiceflow.employee (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT employee_pkey PRIMARY KEY,
    login_role name CONSTRAINT employee_login_role_key UNIQUE,
    full_name text NOT NULL CONSTRAINT employee_full_name_not_blank CHECK (btrim(full_name) <> ''),
    email text NOT NULL CONSTRAINT employee_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    locale text NOT NULL DEFAULT 'ru' CONSTRAINT employee_locale_check CHECK (locale IN ('ru', 'en')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow.employee IS 'A person of the group; identified in the database by their own login role.';
COMMENT ON COLUMN invoiceflow.employee.login_role IS
    'The person''s PostgreSQL login role (compared with session_user); NULL for people without SQL access.';
COMMENT ON COLUMN invoiceflow.employee.locale IS 'Language of the mail sent to this person (ru by default).';
COMMENT ON COLUMN invoiceflow.employee.active IS 'False once the person has left: they lose their identity at once.';

CREATE TABLE invoiceflow.assignment (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT assignment_pkey PRIMARY KEY,
    employee_id bigint NOT NULL CONSTRAINT assignment_employee_fkey REFERENCES invoiceflow.employee (id),
    department_id bigint NOT NULL,
    subdivision_id bigint NOT NULL,
    position_id bigint NOT NULL CONSTRAINT assignment_position_fkey REFERENCES invoiceflow.position (id),
    valid tstzrange NOT NULL CONSTRAINT assignment_valid_not_empty CHECK (NOT isempty(valid) AND lower(valid) IS NOT NULL),
    CONSTRAINT assignment_department_fkey FOREIGN KEY (department_id, subdivision_id)
        REFERENCES invoiceflow.department (id, subdivision_id),
    CONSTRAINT assignment_no_overlap EXCLUDE USING gist
        (employee_id WITH =, department_id WITH =, position_id WITH =, valid WITH &&)
);
COMMENT ON TABLE invoiceflow.assignment IS
    'An employee holds a position in a department over a time range; the same assignment may not overlap itself.';
COMMENT ON COLUMN invoiceflow.assignment.subdivision_id IS 'The department''s subdivision, kept here so policies need no join.';
COMMENT ON COLUMN invoiceflow.assignment.valid IS 'When the assignment holds: [from, until); an open upper bound means until further notice.';
CREATE INDEX assignment_employee_idx ON invoiceflow.assignment (employee_id);
CREATE INDEX assignment_department_position_idx ON invoiceflow.assignment (department_id, position_id);

CREATE TABLE invoiceflow.invoice_type (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT invoice_type_pkey PRIMARY KEY,
    code text NOT NULL CONSTRAINT invoice_type_code_key UNIQUE
        CONSTRAINT invoice_type_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
    name_ru text NOT NULL,
    name_en text NOT NULL,
    confidential boolean NOT NULL DEFAULT false,
    sort_order integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE invoiceflow.invoice_type IS 'Kinds of invoice; each has its own route (SCENARIOS.md holds the six defaults).';
COMMENT ON COLUMN invoiceflow.invoice_type.confidential IS
    'Payroll-like: visible only to the initiator, the people with tasks on it, payroll roles, the CEO and auditors.';

INSERT INTO invoiceflow.invoice_type (code, name_ru, name_en, confidential, sort_order) VALUES
    ('supplier_goods', 'Оплата поставщику товара', 'Supplier goods', false, 1),
    ('payroll', 'Зарплата и выплаты персоналу', 'Payroll', true, 2),
    ('operating_expenses', 'Прочие расходы', 'Other operating expenses and services', false, 3),
    ('intercompany', 'Внутригрупповые расчёты', 'Intercompany', false, 4),
    ('logistics_customs', 'Логистика, ВЭД, таможня', 'Logistics and customs', false, 5),
    ('employee_advance', 'Подотчёт, командировки', 'Employee advances and travel', false, 6);

CREATE TABLE invoiceflow.substitution (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT substitution_pkey PRIMARY KEY,
    absent_employee_id bigint NOT NULL CONSTRAINT substitution_absent_fkey REFERENCES invoiceflow.employee (id),
    deputy_employee_id bigint NOT NULL CONSTRAINT substitution_deputy_fkey REFERENCES invoiceflow.employee (id),
    valid tstzrange NOT NULL CONSTRAINT substitution_valid_bounded
        CHECK (NOT isempty(valid) AND lower(valid) IS NOT NULL AND upper(valid) IS NOT NULL),
    invoice_type_codes text[] CONSTRAINT substitution_types_not_empty CHECK (cardinality(invoice_type_codes) > 0),
    reason text NOT NULL CONSTRAINT substitution_reason_not_blank CHECK (btrim(reason) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT substitution_not_self CHECK (absent_employee_id <> deputy_employee_id),
    CONSTRAINT substitution_no_overlap EXCLUDE USING gist (absent_employee_id WITH =, valid WITH &&)
);
COMMENT ON TABLE invoiceflow.substitution IS
    'A deputy acts for an absent employee over a bounded time range, optionally only for some invoice types. '
    'One deputy at a time per absent person, and no chains (a deputy cannot be absent, nor an absent person a deputy, '
    'at overlapping times): resolution is never ambiguous.';
COMMENT ON COLUMN invoiceflow.substitution.invoice_type_codes IS 'Invoice type codes the deputy covers; NULL means all types.';
COMMENT ON COLUMN invoiceflow.substitution.valid IS 'When the deputy acts: [from, until), both ends required.';
CREATE INDEX substitution_deputy_idx ON invoiceflow.substitution (deputy_employee_id);

-- Chains (A away with B as deputy while B is away) make "who acts" ambiguous; an exclusion constraint
-- cannot compare two different columns across rows, so a trigger refuses them.
CREATE FUNCTION invoiceflow_private.substitution_refuse_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Serialize concurrent inserts about the same people so two chain halves cannot both pass.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.substitution'));
    IF EXISTS (SELECT FROM invoiceflow.substitution AS s
               WHERE s.id <> NEW.id
                 AND s.valid OPERATOR(pg_catalog.&&) NEW.valid
                 AND (s.absent_employee_id = NEW.deputy_employee_id OR s.deputy_employee_id = NEW.absent_employee_id))
    THEN
        RAISE EXCEPTION 'substitution would form a chain: the deputy is absent, or the absent employee is a deputy, at an overlapping time'
            USING ERRCODE = 'IF011', COLUMN = 'p_deputy_employee_id';
    END IF;
    IF NEW.invoice_type_codes IS NOT NULL AND EXISTS (
        SELECT FROM pg_catalog.unnest(NEW.invoice_type_codes) AS c (code)
        WHERE NOT EXISTS (SELECT FROM invoiceflow.invoice_type AS t WHERE t.code = c.code))
    THEN
        RAISE EXCEPTION 'unknown invoice type in invoice_type_codes' USING ERRCODE = 'IF001', COLUMN = 'p_invoice_types';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.substitution_refuse_chain() IS
    'Trigger: refuses substitution chains and unknown invoice type codes (an exclusion constraint cannot express either).';
CREATE TRIGGER substitution_refuse_chain BEFORE INSERT OR UPDATE ON invoiceflow.substitution
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.substitution_refuse_chain();

CREATE TABLE invoiceflow.counterparty (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT counterparty_pkey PRIMARY KEY,
    name text NOT NULL CONSTRAINT counterparty_name_not_blank CHECK (btrim(name) <> ''),
    inn text NOT NULL CONSTRAINT counterparty_inn_valid CHECK (invoiceflow.inn_is_valid(inn)),
    kpp text CONSTRAINT counterparty_kpp_valid CHECK (invoiceflow.kpp_is_valid(kpp)),
    bik text NOT NULL CONSTRAINT counterparty_bik_valid CHECK (invoiceflow.bik_is_valid(bik)),
    settlement_account text NOT NULL CONSTRAINT counterparty_settlement_account_valid
        CHECK (invoiceflow.settlement_account_is_valid(settlement_account, bik)),
    correspondent_account text CONSTRAINT counterparty_correspondent_account_valid
        CHECK (invoiceflow.correspondent_account_is_valid(correspondent_account, bik)),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT counterparty_kpp_for_legal_entity CHECK (length(inn) = 12 OR kpp IS NOT NULL),
    CONSTRAINT counterparty_inn_kpp_key UNIQUE NULLS NOT DISTINCT (inn, kpp)
);
COMMENT ON TABLE invoiceflow.counterparty IS
    'An external supplier or payee with validated requisites; one row per (ИНН, КПП).';
COMMENT ON COLUMN invoiceflow.counterparty.kpp IS 'КПП; required for legal entities (10-digit ИНН), NULL for an individual entrepreneur.';
COMMENT ON COLUMN invoiceflow.counterparty.created_at IS 'When first registered; "new supplier" route conditions compare against it.';

-- Identity (invariant 5): a person is the employee whose login role is session_user (current_user
-- would be the owner inside SECURITY DEFINER). The daemon acts for a person only through the
-- transaction-local setting invoiceflow.acting_employee, trusted only when session_user is the daemon.
CREATE FUNCTION invoiceflow.current_employee_id() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    SELECT CASE
        WHEN session_user OPERATOR(pg_catalog.=) 'invoiceflow_daemon'::name THEN (
            SELECT e.id FROM invoiceflow.employee AS e
            WHERE e.active
              AND e.id OPERATOR(pg_catalog.=) (
                  SELECT CASE WHEN s.v OPERATOR(pg_catalog.~) '^[0-9]{1,18}$' THEN s.v::bigint END
                  FROM (SELECT pg_catalog.current_setting('invoiceflow.acting_employee', true) AS v) AS s))
        ELSE (SELECT e.id FROM invoiceflow.employee AS e WHERE e.login_role OPERATOR(pg_catalog.=) session_user AND e.active)
    END);
END
$$;
COMMENT ON FUNCTION invoiceflow.current_employee_id() IS
    'The employee the caller is: the one whose login role is session_user, or, for the daemon only, the one named by '
    'the transaction-local setting invoiceflow.acting_employee. NULL when the caller is nobody (then RLS shows nothing).';
REVOKE ALL ON FUNCTION invoiceflow.current_employee_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.current_employee_id() TO invoiceflow_employee, invoiceflow_auditor,
    invoiceflow_admin, invoiceflow_daemon;

CREATE FUNCTION invoiceflow.current_channel() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    SELECT CASE
        WHEN session_user OPERATOR(pg_catalog.=) 'invoiceflow_daemon'::name THEN
            CASE WHEN pg_catalog.current_setting('invoiceflow.channel', true) OPERATOR(pg_catalog.=) 'email_link'
                 THEN 'email_link' ELSE 'daemon' END
        ELSE 'sql'
    END);
END
$$;
COMMENT ON FUNCTION invoiceflow.current_channel() IS
    'How the current action arrived, for the audit log: sql for people''s own sessions; for the daemon, email_link '
    'when it sets invoiceflow.channel = email_link for this transaction, else daemon.';
REVOKE ALL ON FUNCTION invoiceflow.current_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.current_channel() TO invoiceflow_employee, invoiceflow_auditor,
    invoiceflow_admin, invoiceflow_daemon;

CREATE FUNCTION invoiceflow_private.caller_is(p_group name) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    -- The daemon never inherits a person's groups; people are judged by their own login role.
    SELECT session_user OPERATOR(pg_catalog.<>) 'invoiceflow_daemon'::name
       AND pg_catalog.pg_has_role(session_user, p_group, 'MEMBER'));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.caller_is(name) IS
    'True when the session user (not current_user, which is the owner inside definer functions) is a member of the group.';
REVOKE ALL ON FUNCTION invoiceflow_private.caller_is(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow_private.caller_is(name) TO invoiceflow_employee, invoiceflow_auditor,
    invoiceflow_admin, invoiceflow_daemon;

RESET ROLE;
