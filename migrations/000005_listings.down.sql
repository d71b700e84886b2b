DROP TABLE purchases;
DROP TABLE kits;
DROP TABLE package_courses;
DROP TABLE packages;
DROP TABLE courses;
DROP TABLE teachers;
DROP TABLE articles;
DROP TABLE newsletters;
