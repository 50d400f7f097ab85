-- 01_requisites.sql: the requisites validators of 0002 against valid and invalid vectors.
--
-- Table-driven: every vector is a row of requisites_vector (validator, input, bik, expected, why) and
-- produces one `is` assertion, so adding a vector is adding a row. The valid vectors are published ones
-- (security-anchors.md §8.2) plus vectors computed by an independent Python implementation. Invalid
-- vectors are written out for the shape rules and generated from the valid ones for the check digits:
-- every wrong value of every ИНН check digit, and for the accounts a change of each of the 20 digits
-- (weights 7, 1 and 3 are coprime to 10, so any single changed digit must break the key).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;

CREATE TEMPORARY TABLE requisites_vector (
    validator text NOT NULL,
    input text,
    bik text,
    expected boolean,
    why text NOT NULL
) ON COMMIT DROP;

-- Published and independently computed valid vectors.
INSERT INTO requisites_vector (validator, input, bik, expected, why)
SELECT 'inn', v, NULL, true, 'valid ИНН-10'
FROM unnest(ARRAY['7725088527', '7715034360', '1234567894', '7707083893', '5001007329', '7877893285',
    '7921742182', '0967929085']) AS v
UNION ALL
SELECT 'inn', v, NULL, true, 'valid ИНН-12'
FROM unnest(ARRAY['773370857141', '344809916052', '123456789047', '500100732001', '770708389324',
    '100339075770', '938347017432', '681453840180']) AS v
UNION ALL
SELECT 'settlement', a, b, true, 'valid расчётный счёт for its БИК'
FROM (VALUES ('40702810900000002851', '044030827'), ('40702810938000012345', '044525225'),
    ('40702810600000000001', '045004641'), ('40702810600330766619', '049161461'),
    ('40702810861231007728', '043451450'), ('40702810216630494032', '043783266')) AS t (a, b)
UNION ALL
SELECT 'settlement', a, b, true, 'valid расчётный счёт at a РКЦ (БИК[7..8] = 00)'
FROM (VALUES ('40701810000001002118', '044106001'), ('40702810623740954611', '046991000')) AS t (a, b)
UNION ALL
SELECT 'correspondent', a, b, true, 'valid корреспондентский счёт for its БИК'
FROM (VALUES ('30101810200000000827', '044030827'), ('30101810400000000225', '044525225'),
    ('30101810200000000001', '044525001'), ('30101810859729792095', '041393095'),
    ('30101810232836791393', '046224393'), ('30101810136469748084', '046011084')) AS t (a, b)
UNION ALL
SELECT 'kpp', v, NULL, true, 'valid КПП'
FROM unnest(ARRAY['772501001', '771501001', '500101001', '7701AB001', '7701ZZ999', '010001001']) AS v
UNION ALL
SELECT 'bik', v, NULL, true, 'valid БИК'
FROM unnest(ARRAY['044525225', '044030827', '044106001', '045004641', '100000001', '200000000']) AS v;

-- Every wrong value of each ИНН check digit (d10 of ИНН-10; d11 and d12 of ИНН-12).
INSERT INTO requisites_vector (validator, input, bik, expected, why)
SELECT 'inn', overlay(v.input PLACING d::text FROM pos), NULL, false,
    format('ИНН %s with check digit %s changed to %s', v.input, pos, d)
FROM requisites_vector AS v
CROSS JOIN LATERAL (
    SELECT pos FROM generate_series(length(v.input) - CASE length(v.input) WHEN 12 THEN 1 ELSE 0 END,
        length(v.input)) AS pos
) AS p
CROSS JOIN generate_series(0, 9) AS d
WHERE v.validator = 'inn' AND v.expected AND substr(v.input, pos, 1) <> d::text;

-- Each of the 20 account digits changed (+1 mod 10) and, for the settlement accounts, each digit of the
-- БИК that enters the prefix.
INSERT INTO requisites_vector (validator, input, bik, expected, why)
SELECT v.validator,
    overlay(v.input PLACING ((substr(v.input, pos, 1)::integer + 1) % 10)::text FROM pos), v.bik, false,
    format('%s account %s with digit %s changed', v.validator, v.input, pos)
FROM requisites_vector AS v
CROSS JOIN generate_series(1, 20) AS pos
WHERE v.validator IN ('settlement', 'correspondent') AND v.expected
UNION ALL
SELECT v.validator, v.input,
    overlay(v.bik PLACING ((substr(v.bik, pos, 1)::integer + 1) % 10)::text FROM pos), false,
    format('%s account %s against БИК %s with digit %s changed', v.validator, v.input, v.bik, pos)
FROM requisites_vector AS v
CROSS JOIN LATERAL (
    SELECT pos FROM generate_series(1, 9) AS pos
    WHERE CASE WHEN v.validator = 'settlement' AND substr(v.bik, 7, 2) <> '00' THEN pos IN (7, 8, 9)
        ELSE pos IN (5, 6) END
) AS p
WHERE v.validator IN ('settlement', 'correspondent') AND v.expected;

-- Shape rules: lengths, letters, separators, look-alike digits, NULLs.
INSERT INTO requisites_vector (validator, input, bik, expected, why)
VALUES
    ('inn', '772508852', NULL, false, 'ИНН of 9 digits'),
    ('inn', '77250885270', NULL, false, 'ИНН of 11 digits'),
    ('inn', '7733708571410', NULL, false, 'ИНН of 13 digits'),
    ('inn', '', NULL, false, 'empty ИНН'),
    ('inn', '77250885A7', NULL, false, 'ИНН with a letter'),
    ('inn', '7725O88527', NULL, false, 'ИНН with a Latin O for a zero'),
    ('inn', ' 7725088527', NULL, false, 'ИНН with a leading space'),
    ('inn', '7725088527 ', NULL, false, 'ИНН with a trailing space'),
    ('inn', '7725-088527', NULL, false, 'ИНН with a dash'),
    ('inn', '７７２５０８８５２７', NULL, false, 'ИНН in full-width digits'),
    ('inn', '٧٧٢٥٠٨٨٥٢٧', NULL, false, 'ИНН in Arabic-Indic digits'),
    ('inn', '-772508852', NULL, false, 'ИНН with a minus sign'),
    ('inn', '0000000000', NULL, false, 'ИНН-10 of zeros (checksum holds, never issued)'),
    ('inn', '000000000000', NULL, false, 'ИНН-12 of zeros (checksum holds, never issued)'),
    ('inn', '7725088527' || chr(10), NULL, false, 'ИНН with a trailing newline'),
    ('inn', NULL, NULL, NULL, 'NULL ИНН gives NULL'),
    ('kpp', '77250100', NULL, false, 'КПП of 8 characters'),
    ('kpp', '7725010011', NULL, false, 'КПП of 10 characters'),
    ('kpp', '', NULL, false, 'empty КПП (an ИП stores NULL)'),
    ('kpp', '7701ab001', NULL, false, 'КПП with lower-case reason letters'),
    ('kpp', '7701АБ001', NULL, false, 'КПП with Cyrillic reason letters'),
    ('kpp', 'A72501001', NULL, false, 'КПП with a letter in the tax office part'),
    ('kpp', '77250100A', NULL, false, 'КПП with a letter in the sequence part'),
    ('kpp', '7725 01001', NULL, false, 'КПП with a space'),
    ('kpp', '000000000', NULL, false, 'КПП of one repeated digit'),
    ('kpp', NULL, NULL, NULL, 'NULL КПП gives NULL'),
    ('bik', '04452522', NULL, false, 'БИК of 8 digits'),
    ('bik', '0445252250', NULL, false, 'БИК of 10 digits'),
    ('bik', '344525225', NULL, false, 'БИК starting with 3'),
    ('bik', '04452522O', NULL, false, 'БИК with a letter'),
    ('bik', '', NULL, false, 'empty БИК'),
    ('bik', NULL, NULL, NULL, 'NULL БИК gives NULL'),
    ('settlement', '4070281090000000285', '044030827', false, 'расчётный счёт of 19 digits'),
    ('settlement', '407028109000000028510', '044030827', false, 'расчётный счёт of 21 digits'),
    ('settlement', '4070281090000000285X', '044030827', false, 'расчётный счёт with a letter'),
    ('settlement', '40702 810900000002851', '044030827', false, 'расчётный счёт with a space'),
    ('settlement', '40702810900000002851', '04403082', false, 'valid account, БИК of 8 digits'),
    ('settlement', '40702810900000002851', '04403082X', false, 'valid account, БИК with a letter'),
    ('settlement', '40702810900000002851', '044525225', false, 'valid account, another bank''s БИК'),
    ('settlement', '', '044030827', false, 'empty расчётный счёт'),
    ('settlement', NULL, '044030827', NULL, 'NULL account gives NULL'),
    ('settlement', '40702810900000002851', NULL, NULL, 'NULL БИК gives NULL'),
    ('correspondent', '40702810900000002851', '044030827', false, 'a расчётный счёт is no корр. счёт'),
    ('correspondent', '3010181020000000082', '044030827', false, 'корр. счёт of 19 digits'),
    ('correspondent', '301018102000000008270', '044030827', false, 'корр. счёт of 21 digits'),
    ('correspondent', '3010181020000000082X', '044030827', false, 'корр. счёт with a letter'),
    ('correspondent', '30101810200000000827', '044525225', false, 'valid корр. счёт, another bank''s БИК'),
    ('correspondent', '30101810200000000827', 'X44030827', false, 'valid корр. счёт, malformed БИК'),
    ('correspondent', NULL, '044030827', NULL, 'NULL account gives NULL'),
    ('correspondent', '30101810200000000827', NULL, NULL, 'NULL БИК gives NULL');

SELECT plan((SELECT count(*)::integer FROM requisites_vector) + 12);

SELECT is(
    CASE v.validator
        WHEN 'inn' THEN invoiceflow.inn_is_valid(v.input)
        WHEN 'kpp' THEN invoiceflow.kpp_is_valid(v.input)
        WHEN 'bik' THEN invoiceflow.bik_is_valid(v.input)
        WHEN 'settlement' THEN invoiceflow.settlement_account_is_valid(v.input, v.bik)
        WHEN 'correspondent' THEN invoiceflow.correspondent_account_is_valid(v.input, v.bik)
    END,
    v.expected,
    format('%s(%s%s) is %s: %s', v.validator, coalesce(to_json(v.input)::text, 'NULL'),
        coalesce(', ' || to_json(v.bik)::text, ''),
        coalesce(v.expected::text, 'NULL'), v.why))
FROM requisites_vector AS v
ORDER BY v.validator, v.expected DESC NULLS LAST, v.input, v.bik;

-- The catalog shape the CHECK constraints of 0003+ rely on: immutable (usable in CHECK and indexes),
-- strict (NULL passes a CHECK), plain invoker rights, boolean.
SELECT is(
    (SELECT count(*)::integer FROM pg_catalog.pg_proc
     WHERE pronamespace = 'invoiceflow'::regnamespace
         AND proname IN ('inn_is_valid', 'kpp_is_valid', 'bik_is_valid', 'settlement_account_is_valid',
             'correspondent_account_is_valid')),
    5, 'exactly the five validators exist, without overloads');
SELECT function_returns('invoiceflow', 'inn_is_valid', ARRAY['text'], 'boolean',
    'inn_is_valid(text) returns boolean');
SELECT function_returns('invoiceflow', 'settlement_account_is_valid', ARRAY['text', 'text'], 'boolean',
    'settlement_account_is_valid(account, bik) returns boolean');
SELECT function_returns('invoiceflow', 'correspondent_account_is_valid', ARRAY['text', 'text'], 'boolean',
    'correspondent_account_is_valid(account, bik) returns boolean');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p
      WHERE p.pronamespace = 'invoiceflow'::regnamespace
          AND p.proname IN ('inn_is_valid', 'kpp_is_valid', 'bik_is_valid', 'settlement_account_is_valid',
              'correspondent_account_is_valid', 'digits_weighted_sum')
          AND NOT (p.provolatile = 'i' AND p.proisstrict AND NOT p.prosecdef AND p.proparallel = 's')$$,
    'every validator is IMMUTABLE STRICT PARALLEL SAFE and SECURITY INVOKER');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p
      WHERE p.pronamespace = 'invoiceflow'::regnamespace
          AND p.proname IN ('inn_is_valid', 'kpp_is_valid', 'bik_is_valid', 'settlement_account_is_valid',
              'correspondent_account_is_valid', 'digits_weighted_sum')
          AND p.prosqlbody IS NULL$$,
    'every validator has a pre-parsed SQL-standard body, so search_path cannot redirect it');

-- A caller-controlled search_path with look-alike objects earlier in the path changes nothing.
CREATE SCHEMA requisites_shadow;
CREATE FUNCTION requisites_shadow.substr(text, integer, integer) RETURNS text
LANGUAGE sql IMMUTABLE RETURN '0';
CREATE FUNCTION requisites_shadow.ascii(text) RETURNS integer LANGUAGE sql IMMUTABLE RETURN 48;
CREATE FUNCTION requisites_shadow.textregexeq_always(text, text) RETURNS boolean
LANGUAGE sql IMMUTABLE RETURN true;
CREATE OPERATOR requisites_shadow.~ (
    LEFTARG = text, RIGHTARG = text, FUNCTION = requisites_shadow.textregexeq_always);
SET LOCAL search_path = requisites_shadow, pg_catalog, public;
SELECT is(invoiceflow.inn_is_valid('7725088528'), false,
    'shadowed substr/ascii/~ earlier in search_path do not make a wrong ИНН valid');
SELECT is(invoiceflow.settlement_account_is_valid('40702810000000002851', '044030827'), false,
    'shadowed functions earlier in search_path do not make a wrong account valid');
SELECT is(invoiceflow.kpp_is_valid('not a kpp'), false,
    'a shadowed ~ operator earlier in search_path does not make a malformed КПП valid');
RESET search_path;

-- Garbage of every length never raises (CHECK violations, not cast errors, must reach the caller).
SELECT lives_ok(
    $$SELECT invoiceflow.inn_is_valid(s), invoiceflow.kpp_is_valid(s), invoiceflow.bik_is_valid(s),
             invoiceflow.settlement_account_is_valid(s, s), invoiceflow.correspondent_account_is_valid(s, s)
      FROM (SELECT repeat(chr(33 + (n % 90)), n % 25) || n::text AS s FROM generate_series(0, 500) AS n) AS g$$,
    'no validator raises on 500 malformed strings');
SELECT lives_ok(
    $$SELECT invoiceflow.settlement_account_is_valid('40702810900000002851', b),
             invoiceflow.correspondent_account_is_valid('30101810200000000827', b)
      FROM unnest(ARRAY['', '0', '04403082', 'абвгдежзи', '0440308270000']) AS b$$,
    'account validators do not raise on a malformed БИК');
SELECT is(
    (SELECT count(*)::integer FROM generate_series(1, 999999999, 1000003) AS n
     WHERE invoiceflow.inn_is_valid(lpad(n::text, 9, '1')
         || ((SELECT sum(substr(lpad(n::text, 9, '1'), i::integer, 1)::integer * w)
              FROM unnest(ARRAY[2, 4, 10, 3, 5, 9, 4, 6, 8]) WITH ORDINALITY AS t (w, i)) % 11 % 10)::text)),
    (SELECT count(*)::integer FROM generate_series(1, 999999999, 1000003) AS n),
    'ИНН-10 computed in SQL for ~1000 spread prefixes all validate (agreement with the formula)');

SELECT * FROM finish();
ROLLBACK;
