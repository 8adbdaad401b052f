-- The awards a public read covers, in one place for every read (a page and its count, the totals,
-- the export): not withdrawn, and passing each filter that is given (an empty list or a null does
-- not filter). A plain SQL function the planner inlines, so each query is planned against the
-- awards table and its indexes with the filters' values.
CREATE FUNCTION matching_awards(
    company_query text,
    municipalities text[],
    industries text[],
    program_ids text[],
    fiscal_years integer[],
    ids uuid[],
    grants boolean,
    loans boolean,
    tax_credits boolean
) RETURNS SETOF awards LANGUAGE sql STABLE AS $$
    SELECT a.* FROM awards a
    WHERE NOT a.withdrawn
      AND (company_query IS NULL OR a.company_text @@ to_tsquery('simple', company_query))
      AND (cardinality(municipalities) = 0 OR lower(a.municipality) = ANY(municipalities))
      AND (cardinality(industries) = 0 OR lower(a.industry) = ANY(industries))
      AND (cardinality(program_ids) = 0 OR a.program_id = ANY(program_ids))
      AND (cardinality(fiscal_years) = 0 OR a.fiscal_year = ANY(fiscal_years))
      AND (ids IS NULL OR a.id = ANY(ids))
      AND (NOT (grants OR loans OR tax_credits)
           OR (grants AND a.grant_cents > 0)
           OR (loans AND a.loan_cents > 0)
           OR (tax_credits AND a.program_id IN
               (SELECT id FROM programs WHERE 'tax_credit' = ANY(assistance_types))))
$$;
