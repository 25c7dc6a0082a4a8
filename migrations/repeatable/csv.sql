-- The cells of every CSV answer: the one set of rules (shared/web/csv_sql.py picks the function
-- for each column from the reply model's field type and joins the cells with commas).
--
-- Each is a one-expression SQL function without STRICT, so the planner inlines it into the
-- statement that calls it: no function call per cell, the export's speed is that of the
-- expressions written out (STRICT would stop the inlining: a CASE is not strict). The volatility
-- is the body's own (to_char is STABLE): a function declared more immutable than its body is not
-- inlined either. NULL in gives NULL out; the line writes it as an empty cell.

-- Text from clients (driver ids, team names): a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`,
-- so a spreadsheet shows the cell instead of running it as a formula; then, when it holds a
-- quote, comma, CR or LF, it is quoted per RFC 4180 (quotes doubled). The `'` never needs
-- quoting, so whether to quote is decided on the text as given. Most text needs neither, which
-- the first branch finds with one regular expression per cell and nothing more.
CREATE OR REPLACE FUNCTION csv_text(p_text TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_text !~ '^[-=+@\t\r]|[",\r\n]' THEN p_text
    WHEN p_text ~ '[",\r\n]'
        THEN '"'
             || CASE WHEN left(p_text, 1) IN ('=', '+', '-', '@', E'\t', E'\r')
                     THEN '''' ELSE '' END
             || replace(p_text, '"', '""') || '"'
    ELSE '''' || p_text
END;

CREATE OR REPLACE FUNCTION csv_bool(p_value BOOLEAN) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE p_value WHEN true THEN 'true' WHEN false THEN 'false' END;

-- ISO 8601 in UTC with all six fraction digits, whatever the session's TimeZone and DateStyle:
-- 2026-03-01T08:30:00.000000+00:00.
CREATE OR REPLACE FUNCTION csv_time(p_time TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');

-- YYYY-MM-DD whatever the session's DateStyle.
CREATE OR REPLACE FUNCTION csv_date(p_date DATE) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(CAST(p_date AS timestamp), 'YYYY-MM-DD');
