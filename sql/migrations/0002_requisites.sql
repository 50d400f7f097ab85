-- 0002_requisites.sql: validators of Russian bank and tax requisites (ИНН, КПП, БИК, расчётный and
-- корреспондентский счёт), used by the CHECK constraints of 0003 onward.
--
-- Every function is IMMUTABLE STRICT PARALLEL SAFE: NULL in gives NULL out, so a nullable column
-- accepts NULL and a CHECK constraint built on it does not reject a missing value (NOT NULL decides
-- that). They never raise: letters, wrong lengths and stray characters simply give false, so a CHECK
-- violation (with the constraint's name) is what the caller sees, not a cast error.
--
-- The bodies are SQL-standard (`RETURN` / `BEGIN ATOMIC`): PostgreSQL parses them once, at creation,
-- and binds every function and operator by OID. A later search_path (including a caller's pg_temp)
-- therefore cannot redirect them, which matters because CHECK constraints run with the privileges
-- and search_path of whoever writes the row, including SECURITY DEFINER command functions.
--
-- Algorithms (cross-checked against an independent implementation and the published vectors in
-- /work/shared/reference/security-anchors.md §8.2; tests in sql/tests/01_requisites.sql):
--   ИНН-10: c = (2,4,10,3,5,9,4,6,8)·d1..d9 mod 11 mod 10, c = d10.
--   ИНН-12: c11 = (7,2,4,10,3,5,9,4,6,8)·d1..d10 mod 11 mod 10 = d11,
--           c12 = (3,7,2,4,10,3,5,9,4,6,8)·d1..d11 mod 11 mod 10 = d12.
--   КПП:    NNNN XX NNN (tax office, reason code that may hold capital Latin letters, sequence).
--   БИК:    9 digits starting with 0, 1 or 2 (no check digit exists).
--   Accounts: 23 digits = 3-digit prefix || 20-digit account, weights 7,1,3 repeated;
--           valid iff Σ w·d ≡ 0 (mod 10). Prefix for a расчётный счёт: the last 3 digits of the БИК,
--           or '0' || БИК[5..6] when БИК[7..8] = '00' (an account held at a РКЦ of the Bank of Russia);
--           for a корреспондентский счёт always '0' || БИК[5..6].

-- Created as the owner so that no login role owns anything (invariant 4), like every other migration.
SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow.digits_weighted_sum(digits text, weights integer[])
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.sum((pg_catalog.ascii(pg_catalog.substr(digits, w.i::integer, 1)) - 48) * w.weight), 0)::integer
    FROM pg_catalog.unnest(weights) WITH ORDINALITY AS w (weight, i);
END;

COMMENT ON FUNCTION invoiceflow.digits_weighted_sum(text, integer[]) IS
    'Σ weight[i] · digit[i] over the leading characters of a digit string (as many as there are weights). '
    'Shared arithmetic of the requisites check digits; callers must have checked that the string is digits only.';

CREATE FUNCTION invoiceflow.inn_is_valid(inn text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN inn !~ '^([0-9]{10}|[0-9]{12})$' THEN false
    -- '0000000000' and the like satisfy the arithmetic but are never issued.
    WHEN inn ~ '^(.)\1*$' THEN false
    WHEN pg_catalog.length(inn) = 10 THEN
        invoiceflow.digits_weighted_sum(inn, ARRAY[2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10
            = pg_catalog.ascii(pg_catalog.substr(inn, 10, 1)) - 48
    ELSE
        invoiceflow.digits_weighted_sum(inn, ARRAY[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10
            = pg_catalog.ascii(pg_catalog.substr(inn, 11, 1)) - 48
        AND invoiceflow.digits_weighted_sum(inn, ARRAY[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10
            = pg_catalog.ascii(pg_catalog.substr(inn, 12, 1)) - 48
END;

COMMENT ON FUNCTION invoiceflow.inn_is_valid(text) IS
    'True when the text is a ИНН with correct check digits: 10 digits (organisation) or 12 digits '
    '(individual, ИП). NULL for NULL; false for anything else, never an error.';

CREATE FUNCTION invoiceflow.kpp_is_valid(kpp text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN kpp ~ '^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$' AND kpp !~ '^(.)\1*$';

COMMENT ON FUNCTION invoiceflow.kpp_is_valid(text) IS
    'True when the text is a КПП: 4 digits (tax office), 2 digits or capital Latin letters (reason), '
    '3 digits (sequence); a КПП has no check digit. An ИП has no КПП: store NULL, not an empty string.';

CREATE FUNCTION invoiceflow.bik_is_valid(bik text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN bik ~ '^[012][0-9]{8}$';

COMMENT ON FUNCTION invoiceflow.bik_is_valid(text) IS
    'True when the text has the shape of a БИК (9 digits, the first 0, 1 or 2). A БИК has no check '
    'digit; membership in the Bank of Russia directory is not checked here.';

CREATE FUNCTION invoiceflow.settlement_account_is_valid(account text, bik text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN account !~ '^[0-9]{20}$' OR NOT invoiceflow.bik_is_valid(bik) THEN false
    WHEN pg_catalog.substr(bik, 7, 2) = '00' THEN
        invoiceflow.digits_weighted_sum('0' || pg_catalog.substr(bik, 5, 2) || account,
            ARRAY[7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 = 0
    ELSE
        invoiceflow.digits_weighted_sum(pg_catalog.substr(bik, 7, 3) || account,
            ARRAY[7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 = 0
END;

COMMENT ON FUNCTION invoiceflow.settlement_account_is_valid(text, text) IS
    'True when the 20-digit расчётный счёт has the correct control key for the bank with this БИК '
    '(prefix = last 3 digits of the БИК, or 0 || БИК[5..6] for a РКЦ whose БИК[7..8] is 00; weights 7,1,3).';

CREATE FUNCTION invoiceflow.correspondent_account_is_valid(account text, bik text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN account !~ '^301[0-9]{17}$' OR NOT invoiceflow.bik_is_valid(bik) THEN false
    ELSE
        invoiceflow.digits_weighted_sum('0' || pg_catalog.substr(bik, 5, 2) || account,
            ARRAY[7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 = 0
END;

COMMENT ON FUNCTION invoiceflow.correspondent_account_is_valid(text, text) IS
    'True when the text is a 20-digit корреспондентский счёт (account class 301) whose control key is '
    'correct for the БИК (prefix 0 || БИК[5..6]; weights 7,1,3).';

-- Pure functions that read no data: anyone may call them (client-side pre-validation, reports). The
-- owner's default privileges revoke EXECUTE from PUBLIC, so grant it back explicitly.
GRANT EXECUTE ON FUNCTION invoiceflow.digits_weighted_sum(text, integer[]), invoiceflow.inn_is_valid(text),
    invoiceflow.kpp_is_valid(text), invoiceflow.bik_is_valid(text),
    invoiceflow.settlement_account_is_valid(text, text), invoiceflow.correspondent_account_is_valid(text, text)
    TO PUBLIC;

RESET ROLE;
