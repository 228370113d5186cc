-- The first document's schema. The mysql image runs this once, when it initialises an empty data
-- directory (/docker-entrypoint-initdb.d), after creating MYSQL_DATABASE and MYSQL_USER.
CREATE DATABASE IF NOT EXISTS ProductDetails CHARACTER SET utf8mb4;
CREATE TABLE IF NOT EXISTS ProductDetails.products (
  product_name VARCHAR(10) NOT NULL,
  product_id VARCHAR(11) NOT NULL
) CHARACTER SET utf8mb4;
