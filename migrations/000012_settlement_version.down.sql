DO $$
DECLARE
    tbl text;
    event text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['teachers', 'courses', 'packages', 'package_courses', 'kits', 'purchases'] LOOP
        FOREACH event IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
            EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_settlement_' || event, tbl);
        END LOOP;
    END LOOP;
END
$$;
DROP FUNCTION settlement_bump_version();
DROP TABLE settlement_version;
