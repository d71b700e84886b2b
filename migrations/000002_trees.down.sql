DROP TABLE wards, departments, categories, tree_versions;
DROP FUNCTION tree_refuse_cycle(), tree_bump_version(), tree_version_triggers(regclass, text);
DROP EXTENSION IF EXISTS pg_trgm;
